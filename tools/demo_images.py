"""The image demo (GFNet on images) on the built-in synthetic images, start to finish, timed.

1. generate the image demo (``data_prep/make_demo_dataset.py --images``; skipped when it
exists); 2. train GFNet end to end (``configs/demo/images/gfnet_e2e.py``: a 32x32 glance
of the whole 128x128 image, then 3 focus steps of one 48x48 patch) and the static baseline
(the focus network on the whole image); 3. write the compute report (thresholds fitted on
val for a range of budgets, applied to test, the baseline beside it, ``--latency 100``);
4. run the test split with real early exit at the report's middle budget (``tools/test.py
--budget``); 5. evaluate the same GFNet with random patch places instead of its policy,
and the share of patches on the object (from the generator's boxes); 6. print top-1,
GFLOPs and ms per image side by side.

Every phase but 5 is one of the ordinary command-line tools, run as a user would run it;
5 is ``benchmarks/policy_ablation.py``'s ``evaluate``.

``--ppo`` trains GFNet's three stages instead (``configs/demo/images/gfnet_ppo_stage{1,2,3}.py``:
random patches; the policy alone by PPO; fine-tuning with it fixed) and prints each stage's
top-1 per exit and patches on the object (stage 1's are random places).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tools'))
sys.path.insert(0, str(ROOT / 'benchmarks'))
from demo import epoch_options, make_data, print_times, report_and_test, train_all  # noqa: E402

CONFIGS = {'GFNet (e2e)': 'configs/demo/images/gfnet_e2e.py',
           'static': 'configs/demo/images/static_resnet18.py'}
PPO_STAGES = [f'configs/demo/images/gfnet_ppo_stage{k}.py' for k in (1, 2, 3)]


def data_options(data: str) -> list[str]:
    """``--cfg-options`` pointing every split of an image demo config at ``data``."""
    return [f'{split}_dataloader.dataset.{key}={value}' for split in ('train', 'val', 'test')
            for key, value in (('data_prefix', f'{data}/{split}'), ('class_names_file', f'{data}/classes.txt'))]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', default='data/demo_images', help='image demo data folder')
    p.add_argument('--work-dir', default='work_dirs/demo_images', help='checkpoints, logs and reports')
    p.add_argument('--epochs', type=int, default=None, help="override the configs' training epochs")
    p.add_argument('--reuse', action='store_true',
                   help='do not train a model whose work dir already holds a last_checkpoint')
    p.add_argument('--ppo', action='store_true', help="GFNet's three training stages instead (see above)")
    args = p.parse_args()
    times: dict[str, float] = {}
    work = Path(args.work_dir)

    make_data(args.data, 'test.txt', times, '--images')

    opts = data_options(args.data)
    if args.ppo:
        return ppo_stages(args, work, opts, times)
    train_opts = opts + epoch_options(args.epochs)
    ckpts = train_all(CONFIGS, work, train_opts, times, reuse=args.reuse)
    gf_config = ckpts['GFNet (e2e)'][0]
    report, summary, early = report_and_test(ckpts['GFNet (e2e)'], ckpts['static'], work, opts, times, 'image')
    budget = summary['operating_point']['budget']

    t = time.time()
    print('== the same GFNet with random patch places, and patches on the object (policy_ablation.evaluate)',
          flush=True)
    from policy_ablation import evaluate
    data = (ROOT / args.data).resolve()
    test_opts = {f'test_dataloader.dataset.{k}': v for k, v in
                 (('data_prefix', f'{data}/test'), ('class_names_file', f'{data}/classes.txt'))}
    gf_work = (ROOT / work / Path(gf_config).stem).resolve()
    learned = evaluate(gf_config, gf_work, data, data_options=test_opts)
    random = evaluate(gf_config, gf_work, data, dict(_delete_=True, type='random'), data_options=test_opts)
    times['random patches (test)'] = time.time() - t

    full, base, costs = summary['no_early_exit'], summary['baseline'], summary['exit_costs']
    latency = summary['latency']
    ms = [e['mean_ms'] for e in latency['exits']]
    budget_ms = next(b['mean_ms'] for b in latency['budgets'] if b['budget'] == budget)
    last = len(costs) - 1
    hit = lambda r, k: f"{r['hit_per_step'][k - 1]:.0f}"  # noqa: E731
    rows = [('glance only (exit 0)', summary['anytime_top1'][0], costs[0], 0.0, ms[0], '-')]
    rows += [(f'glance + {k} focus step{"s" if k > 1 else ""} (exit {k})', summary['anytime_top1'][k],
              costs[k], float(k), ms[k], hit(learned, k)) for k in range(1, last + 1)]
    rows += [(f'early exit, budget {budget:.3g}', early['top1'], early['gflops'], early['mean_exit'], budget_ms, '-'),
             (f'random patches (exit {last})', random['last'], costs[-1], float(last), ms[-1],
              f"{random['hit']:.0f}"),
             ('static (ResNet-18, full image)', base['top1'], base['mean_gflops'], 0.0,
              latency['baseline']['mean_ms'], '-')]
    print(f"\n== image demo results (test split, {summary.get('num_clips', 'all')} images; ms: "
          f"{latency['clips']} of them one at a time, fused, on {latency['device']}; on object: the "
          f"step's patch contains the object's centre, %)")
    print(f'{"model":<34}{"top-1 %":>9}{"GFLOPs":>10}{"vs static":>11}{"mean exit":>11}{"ms":>8}'
          f'{"on object":>11}')
    for name, top1, gflops, mean_exit, clip_ms, on_object in rows:
        print(f'{name:<34}{top1:>9.1f}{gflops:>10.4f}{gflops / base["mean_gflops"]:>10.2f}x{mean_exit:>11.2f}'
              f'{clip_ms:>8.2f}{on_object:>11}')
    print(f"\nfocus matters: glance + focus {full['top1'] - summary['anytime_top1'][0]:+.1f} points over the "
          f"glance alone; the policy {learned['last'] - random['last']:+.1f} points over random patches "
          f"({learned['hit']:.0f}% against {random['hit']:.0f}% of patches on the object)")
    print(f'budget curve, plots and per-image tables: {report}/summary.md')
    print_times(times, report)


def ppo_stages(args: argparse.Namespace, work: Path, opts: list[str], times: dict[str, float]) -> None:
    """``--ppo``: the three stages in turn, each from the previous one's last checkpoint, then evaluated."""
    from policy_ablation import evaluate
    data = (ROOT / args.data).resolve()
    test_opts = {f'test_dataloader.dataset.{k}': v for k, v in
                 (('data_prefix', f'{data}/test'), ('class_names_file', f'{data}/classes.txt'))}
    previous, results = None, {}
    for k, config in enumerate(PPO_STAGES, start=1):
        load = [f'load_from={previous}'] if previous else []
        ckpts = train_all({f'PPO stage {k}': config}, work, opts + epoch_options(args.epochs) + load, times,
                          reuse=args.reuse)
        previous = ckpts[f'PPO stage {k}'][1]
        t = time.time()
        results[f'stage {k}'] = evaluate(config, (ROOT / work / Path(config).stem).resolve(), data,
                                         data_options=test_opts)
        times[f'evaluate stage {k} (test)'] = time.time() - t
    print('\n== GFNet on the image demo by its three stages (test split; on object: % of the step\'s patches '
          'containing the object\'s centre)')
    print(f'{"model":<28}{"top-1 % per exit":>28}{"on object % per step":>24}')
    for name, r in results.items():
        print(f'{name:<28}{" / ".join(f"{v:.1f}" for v in r["top1_per_exit"]):>28}'
              f'{" / ".join(f"{v:.0f}" for v in r["hit_per_step"]):>24}')
    print_times(times)


if __name__ == '__main__':
    main()
