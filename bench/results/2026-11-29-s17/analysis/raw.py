# raw.py CKPT OUT: a trainer checkpoint's raw (non-EMA) weights as a plain file
import json,struct,sys
b=open(sys.argv[1],'rb').read()
n=struct.unpack('<Q',b[:8])[0]; h=json.loads(b[8:8+n]); data=b[8+n:]
out={}; chunks=[]; off=0
for k,v in h.items():
    if k=='__metadata__' or k.startswith('ema.') or k.startswith('adam_') or k.startswith('aux.'): continue
    s,e=v['data_offsets']; t=data[s:e]
    out[k]={'dtype':v['dtype'],'shape':v['shape'],'data_offsets':[off,off+len(t)]}; chunks.append(t); off+=len(t)
hj=json.dumps(out).encode(); hj+=b' '*((8-len(hj)%8)%8)
open(sys.argv[2],'wb').write(struct.pack('<Q',len(hj))+hj+b''.join(chunks))
