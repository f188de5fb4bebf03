import re,sys
NUM={'a':1,'an':1,'two':2,'three':3,'four':4}; WORD={1:'a',2:'two',3:'three',4:'four'}
SHAPES=['circle','square','triangle','cross']; PL={'circle':'circles','square':'squares','triangle':'triangles','cross':'crosses'}
RELS=['left of','right of','above','below']; INV={'left of':'right of','right of':'left of','above':'below','below':'above'}
COLS=['red','green','blue','yellow','purple','cyan','white','black']
def split(cap):
    bg=''
    m=re.search(r' on a (\w+) background$',cap)
    if m: bg=m.group(0); cap=cap[:m.start()]
    for r in RELS:
        if f' {r} ' in cap:
            a,b=cap.split(f' {r} '); return [a,b],r,bg
    if ' and ' in cap:
        a,b=cap.split(' and '); return [a,b],'and',bg
    return [cap],None,bg
def contrasts(cap):
    ph,rel,bg=split(cap); out=[]
    if rel and rel!='and':
        out.append(f'{ph[0]} {INV[rel]} {ph[1]}{bg}')
        out.append(f'{ph[1]} {rel} {ph[0]}{bg}')
    elif rel=='and':
        out.append(ph[0]+bg); out.append(ph[1]+bg)
        w0=ph[0].split(); w1=ph[1].split()
        c0=[w for w in w0 if w in COLS]; c1=[w for w in w1 if w in COLS]
        if c0 and c1 and c0[0]!=c1[0]:
            out.append(f"{ph[0].replace(c0[0],c1[0])} and {ph[1].replace(c1[0],c0[0])}{bg}")
    else:
        w=ph[0].split(); n=NUM[w[0]]
        if n>1:
            noun=w[-1]
            for m in (n-1,n+1):
                if 1<=m<=4:
                    ww=[WORD[m]]+w[1:-1]+[noun if m>1 else [s for s in SHAPES if PL[s]==noun][0]]
                    out.append(' '.join(ww)+bg)
    return out
if __name__=='__main__':
    for l in open(sys.argv[1]):
        i,c,s,cap=l.rstrip('\n').split('\t')
        print(f'{i}|{cap}')
        for x in contrasts(cap): print(f'{i}|{x}')
