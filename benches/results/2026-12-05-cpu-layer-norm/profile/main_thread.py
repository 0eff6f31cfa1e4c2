import sys,re,collections
samples=[];cur=None
for line in open(sys.argv[1]):
    if not line.strip():
        if cur: samples.append(cur); cur=None
        continue
    if line[0] not in ' \t':
        if cur: samples.append(cur)
        cur=[line.split()[1], []]; continue
    cur[1].append(line.strip().split(' ',1)[-1])
if cur: samples.append(cur)
main=sys.argv[2]
sel=[s for s in samples if s[0]==main]
c=collections.Counter()
for tid,st in sel:
    key=[]
    for f in st:
        m=re.search(r'(burn_autodiff::ops::\w+::.{0,80}|burn_nn::modules::[\w:]+|trainer_ops::\w+::\w+|burn_flex::ops::\w+::\w+)',f)
        if m: key.append(m.group(1)[:110])
        if len(key)>=2: break
    c[' <- '.join(key)]+=1
for k,v in c.most_common(40): print(f'{100*v/len(samples):5.1f}% {k}')
