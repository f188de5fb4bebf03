# combo.py TAG [ALPHA...]: offline best-of-k over the four eval dumps by the judge head's logit + alpha * 100 * world-CLIP cosine
import json,sys,itertools,os
from collections import defaultdict
dumps=[('/work/runs/s14/dump12.json','dump12'),('/work/runs/s16/dump_s1.json','dump_s1'),('/work/runs/s16/dump_s2.json','dump_s2'),('/work/runs/s16/dump_s3.json','dump_s3')]
tag=sys.argv[1]; alphas=[float(a) for a in sys.argv[2:]] or [0.0]
items=[json.load(open(j))['per_item'] for j,_ in dumps]
def own(t,n):
    d={}
    for l in open(f'c_{t}_{n}.txt'):
        i,cap,v=l.rstrip('\n').split('|'); i=int(i)
        if i not in d: d[i]=float(v)
    return d
J=[own(tag,n) for _,n in dumps]; C=[own(os.environ.get('COS','clip'),n) for _,n in dumps]
K=4
for a in alphas:
    for k in (2,4):
        tot=cnt=0;cat=defaultdict(lambda:[0,0])
        for combo in itertools.combinations(range(K),k):
            for i in range(504):
                b=max(combo,key=lambda s_: J[s_][i]+a*100*C[s_][i])
                p=items[b][i]['pass'];tot+=p;cnt+=1;c=items[0][i]['category'];cat[c][0]+=p;cat[c][1]+=1
        print(f'{tag} alpha {a:g} best-of-{k}: {tot/cnt:.3f}', ' '.join(f'{c[:5]} {v[0]/v[1]:.2f}' for c,v in sorted(cat.items())))
