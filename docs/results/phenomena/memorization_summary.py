# Time to fit and final accuracies of the three memorization experiments (issue 19, #111):
#   python3 docs/results/phenomena/memorization_summary.py runs docs/results/phenomena
# reads RUNS/memorization-{true,random,shuffled-pixels}/results.csv, writes OUT/memorization-summary.csv.
import csv, statistics as st, sys
out=open(sys.argv[2] + '/memorization-summary.csv', 'w')
out.write('data,arm,seeds,final_train_acc_mean,final_train_acc_std,final_test_acc_mean,final_test_acc_std,epochs_to_99_mean,epochs_to_99_std,reached_99\n')
for v in ['true','random','shuffled-pixels']:
    try: rows=list(csv.DictReader(open(f'{sys.argv[1]}/memorization-{v}/results.csv')))
    except FileNotFoundError: continue
    arms=[]
    for r in rows:
        if r['arm'] not in arms: arms.append(r['arm'])
    for a in arms:
        seeds=sorted(set(r['seed'] for r in rows if r['arm']==a))
        fin_tr=[];fin_te=[];ep=[]
        for s in seeds:
            rs=sorted([r for r in rows if r['arm']==a and r['seed']==s], key=lambda r:int(r['task']))
            fin_tr.append(float(rs[-1]['train_accuracy'])); fin_te.append(float(rs[-1]['test_accuracy']))
            e=next((int(r['task']) for r in rs if float(r['train_accuracy'])>=0.99), None)
            if e is not None: ep.append(e)
        sd=lambda x: st.stdev(x) if len(x)>1 else 0.0
        line=f"{v},{a},{len(seeds)},{st.mean(fin_tr):.4f},{sd(fin_tr):.4f},{st.mean(fin_te):.4f},{sd(fin_te):.4f},{st.mean(ep) if ep else float('nan'):.1f},{sd(ep) if ep else float('nan'):.1f},{len(ep)}"
        out.write(line+'\n'); print(line)
