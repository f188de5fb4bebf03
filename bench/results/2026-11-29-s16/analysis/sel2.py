import json,sys,itertools,math,os
from collections import defaultdict
dumps=[('/work/runs/s14/dump12.json','dump12'),('dump_s1.json','dump_s1'),('dump_s2.json','dump_s2'),('dump_s3.json','dump_s3')]
tag=sys.argv[1]
dumps=[(j,n) for j,n in dumps if os.path.exists(f'c_{tag}_{n}.txt')]
items=[json.load(open(j))['per_item'] for j,_ in dumps]
def load(n):
    d=defaultdict(list)
    for l in open(f'c_{tag}_{n}.txt'):
        i,cap,v=l.rstrip('\n').split('|'); d[int(i)].append(float(v))
    return d
S=[load(n) for _,n in dumps]
def rew(v,mode,s=50):
    if mode=='raw' or len(v)==1: return v[0]
    if mode=='margin': return v[0]-max(v[1:])
    if mode=='soft':
        m=max(v); return s*v[0]-(m*s+math.log(sum(math.exp(s*(x-m)) for x in v)))
    if mode=='mix': return v[0]+ (v[0]-max(v[1:]))
K=len(dumps)
for mode in ['raw','margin','soft','mix']:
    for k in range(2,K+1):
        tot=cnt=0;cat=defaultdict(lambda:[0,0])
        for combo in itertools.combinations(range(K),k):
            for i in range(504):
                b=max(combo,key=lambda s_: rew(S[s_][i],mode))
                p=items[b][i]['pass'];tot+=p;cnt+=1;c=items[0][i]['category'];cat[c][0]+=p;cat[c][1]+=1
        print(f'{tag} {mode:6s} best-of-{k}: {tot/cnt:.3f}', ' '.join(f'{c[:5]} {v[0]/v[1]:.2f}' for c,v in sorted(cat.items())))
