import torch, time
for threads in (1, 2):
    torch.set_num_threads(threads)
    for m,k,n in [(2048,128,512),(2048,512,128),(2048,128,128),(128,784,512),(64,288,576),(1024,1024,1024)]:
        a=torch.full((m,k),0.5); b=torch.full((k,n),0.25)
        best=1e9
        for _ in range(20):
            t=time.perf_counter(); c=a@b; best=min(best,time.perf_counter()-t)
        print(f"torch {threads} thread(s) {m}x{k} @ {k}x{n}: {2*m*k*n/best/1e9:.1f} GFLOP/s")
