import sys,re,collections
phases=[('optimizer','burn_optim'),('conv.weight_grad','conv_gemm::weight_grad'),('conv.input_grad','conv_gemm::input_grad'),('conv.bias_grad','conv_gemm::bias_grad'),('conv.forward','conv_gemm::forward|host_conv::host_forward'),('max_pool.bwd','max_pool::backward'),('max_pool.fwd','max_pool::forward'),('dropout','trainer_ops::dropout'),('linear/matmul','burn_flex::ops::matmul'),('activation(relu)','burn_autodiff::ops::activation|relu'),('loss','cross_entropy|log_softmax|loss'),('autodiff other','burn_autodiff'),('data','trainer_core::data|loader|decode'),('host_memory','host_tensor|f32_elements|from_data|into_data')]
samples=[];cur=[]
for line in open(sys.argv[1]):
    if not line.strip():
        if cur: samples.append(cur); cur=[]
        continue
    if line[0] not in ' \t':
        if cur: samples.append(cur)
        cur=[]; continue
    cur.append(line.strip())
if cur: samples.append(cur)
c=collections.Counter(); unk=collections.Counter()
for s in samples:
    txt='\n'.join(s); hit=None
    for name,pat in phases:
        if re.search(pat,txt): hit=name;break
    if hit is None:
        hit='other'; unk[s[0].split(' ',1)[-1][:90]]+=1
    c[hit]+=1
tot=len(samples)
for k,v in c.most_common(): print(f"{100*v/tot:5.1f}% {k}")
print('--- other leaves')
for k,v in unk.most_common(12): print(f"{100*v/tot:5.1f}% {k}")
