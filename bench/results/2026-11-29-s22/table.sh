#!/usr/bin/env bash
# table.sh MODEL_FILE NAME: the README table's other rows for a model, two lanes of one thread:
# none, softpag, best-of-4 s0 | pag, heldout, best-of-4 s1.
cd /work/runs/s22
M=$1 N=$2
{ ./eval.sh $M $N 0 eval none; ./eval.sh $M $N 0 eval softpag; ./bon.sh $M $N 0; } > lane_a.out 2>&1 &
{ ./eval.sh $M $N 0 eval pag; ./eval.sh $M $N 0 heldout; ./bon.sh $M $N 1; } > lane_b.out 2>&1 &
wait
echo done > table_$N.done
