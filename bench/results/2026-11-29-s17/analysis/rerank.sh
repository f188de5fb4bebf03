#!/bin/bash
# rerank.sh MODEL TAG: judge-head scores over the four eval dumps + renders, then the offline best-of-k
cd /work/runs/s17/an
M=$1; T=$2
./score_itm $M /work/runs/s14/dump12 contrast_list.txt > c_${T}_dump12.txt
for s in 1 2 3; do ./score_itm $M /work/runs/s16/dump_s$s contrast_list.txt > c_${T}_dump_s$s.txt; done
./score_itm $M /work/runs/s16/dump_render contrast_list.txt > r_${T}.txt
./score_itm $M /work/runs/s16/dump_render axis_list.txt > ax_${T}.txt
python3 racc.py $T
python3 sel2.py $T | grep raw
