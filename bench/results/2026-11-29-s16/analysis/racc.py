from collections import defaultdict
import sys
cats={}
for l in open('eval_prompts.tsv'):
    i,c,s,cap=l.rstrip('\n').split('\t'); cats[int(i)]=c
for tag in sys.argv[1:]:
    d=defaultdict(list)
    for l in open(f'r_{tag}.txt'):
        i,cap,v=l.rstrip('\n').split('|'); d[int(i)].append(float(v))
    acc=defaultdict(lambda:[0,0])
    for i,v in d.items():
        for x in v[1:]:
            acc[cats[i]][0]+=v[0]>x; acc[cats[i]][1]+=1
    print(tag, {k:round(a/b,2) for k,(a,b) in acc.items()})
