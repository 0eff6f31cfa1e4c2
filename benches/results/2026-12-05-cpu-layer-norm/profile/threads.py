# usage: python3 threads.py S.txt   (S.txt from `perf script -F comm,tid,ip,sym`)
# Prints the samples per thread, the main thread's (lowest tid) and the workers' samples by
# phase, then what the main thread ran: the first two trainer/Burn/flex frames of each stack.
import collections, os, re, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../..'))
import perf_samples
samples = [list(s) for s in perf_samples.read(sys.argv[1])]
tids=collections.Counter(s[0] for s in samples)
main=min(tids, key=lambda t:int(t.split('/')[-1]) if t.split('/')[-1].isdigit() else 0)
print(tids.most_common(), 'main guess', main)
pats=['layer_norm|LayerNorm','host_gelu|gelu','host_attention|causal_attention','linear|Linear','cross_entropy|log_softmax','Embedding|embedding','clip','adam|optim','register_key|graph|GraphLocator|checkpoint','dropout']
for which in ['main','workers']:
    sel=[s for s in samples if (s[0]==main)==(which=='main')]
    c=collections.Counter(); leaf=collections.Counter()
    for tid,st in sel:
        txt='\n'.join(st); hit='other'
        for p in pats:
            if re.search(p,txt): hit=p;break
        c[hit]+=1
        if hit=='other': leaf[st[0][:80] if st else '?']+=1
    print('==',which,len(sel),'of',len(samples))
    for k,v in c.most_common(): print(f'{100*v/len(samples):5.1f}% {k}')
    for k,v in leaf.most_common(8): print(f'   other {100*v/len(samples):5.1f}% {k}')
print()
c=collections.Counter()
for tid,st in samples:
    if tid!=main: continue
    key=[]
    for f in st:
        m=re.search(r'(burn_autodiff::ops::\w+::.{0,80}|burn_nn::modules::[\w:]+|trainer_ops::\w+::\w+|burn_flex::ops::\w+::\w+)',f)
        if m: key.append(m.group(1)[:110])
        if len(key)>=2: break
    c[' <- '.join(key)]+=1
for k,v in c.most_common(40): print(f'{100*v/len(samples):5.1f}% {k}')
