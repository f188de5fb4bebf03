import sys
from collections import defaultdict
for tag in sys.argv[1:]:
    d=defaultdict(list)
    for l in open(f'ax_{tag}.txt'):
        i,cap,v=l.rstrip('\n').split('|'); d[int(i)].append(float(v))
    n=len(d); fl=sum(v[0]>v[1] for v in d.values()); ax=sum(v[0]>v[2] for v in d.values())
    print(tag, f'position items {n}: beats the flipped relation {fl/n:.2f}, the other axis {ax/n:.2f}')
