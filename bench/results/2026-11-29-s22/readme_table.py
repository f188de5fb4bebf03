import json, subprocess, re
R='/work/main/README.md'; s=open(R).read()
B='/work/main/bench/results/2026-11-29-s22/'
rows=subprocess.run(['python3','/work/main/bench/results/2026-11-29-s20/rows.py',
 "CFG 4="+B+"cpu_run22_s0.json","none="+B+"cpu_run22_none.json","CFG 4 + PAG="+B+"cpu_run22_pag.json",
 "CFG 4 + SoftPAG="+B+"cpu_run22_softpag.json","heldout, CFG 4="+B+"cpu_run22_heldout_s0.json",
 "CFG 4, noise seeds + 1 (`--seed 1`)="+B+"cpu_run22_s1.json",
 "CFG 4 + best-of-4 by the world-judge (`--reward judge`, the shipped judge: 4x the model evaluations)="+B+"cpu_run22_bo4_judge_s0.json",
 "the same, `--seed 1`="+B+"cpu_run22_bo4_judge_s1.json"],capture_output=True,text=True,check=True).stdout
hdr="| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
i=s.index(hdr)+len(hdr)
# the old top eight rows become run 21's
old=s[i:].split("\n")[:8]
new_old=[]
for k,l in enumerate(old):
    assert l.startswith("| ") and not l.startswith("| run "), l
    new_old.append(l if l.startswith("| the same") else "| run 21: "+l[2:])
rest=s[i:].split("\n")[8:]
s=s[:i]+rows+"\n".join(new_old+rest)
open(R,'w').write(s)
