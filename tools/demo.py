"""The main job on the built-in demo data, start to finish, with each phase timed.

1. generate the demo videos (skipped when they exist); 2. train the glance-and-focus
model end to end and the static TSM baseline; 3. write the compute report (every exit
evaluated, thresholds fitted on the held-out split for a range of budgets, applied to the
test split, the baseline beside it); 4. run the test split again with real early exit at
the report's middle budget; 5. print top-1, mean GFLOPs and mean ms per clip (100 test
clips timed one at a time, fused, by the report's ``--latency``) side by side, and the path
of report.html, the page to browse the clips in.

Every phase is one of the ordinary command-line tools, run as a user would run it.
The same job for GFNet on still images: ``tools/demo_images.py``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {'glance-focus (e2e)': 'configs/demo/glance_focus_e2e.py',
           'static TSM': 'configs/demo/tsm_static.py'}


def run(cmd: list[str], log: Path | None = None) -> None:
    print('$', ' '.join(cmd), flush=True)
    if log is None:
        subprocess.run(cmd, cwd=ROOT, check=True)
        return
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, 'w') as f:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode:
        sys.exit(f'failed ({proc.returncode}); see {log}:\n' + log.read_text()[-3000:])


def make_data(data: str, marker: str, times: dict[str, float], *flags: str) -> None:
    """Generate the demo data into ``data`` (``make_demo_dataset.py FLAGS``) unless ``marker`` is there."""
    t = time.time()
    if not (ROOT / data / marker).exists():
        run([sys.executable, 'data_prep/make_demo_dataset.py', *flags, '--out', data])
    else:
        print(f'demo data found in {data}')
    times['data'] = time.time() - t


def epoch_options(epochs: int | None) -> list[str]:
    """``--cfg-options`` training a demo config for ``epochs`` (None: as configured)."""
    if not epochs:
        return []
    return [f'train_cfg.max_epochs={epochs}', f'train_cfg.val_interval={epochs}',
            f'param_scheduler.0.T_max={epochs}', f'param_scheduler.0.end={epochs}']


def train_all(configs: dict[str, str], work: Path, opts: list[str], times: dict[str, float],
              reuse: bool = False) -> dict[str, tuple[str, str]]:
    """Train each config through tools/train.py (``reuse``: keep a work dir's last checkpoint);
    returns ``{name: (config, checkpoint)}``."""
    py, ckpts = sys.executable, {}
    for name, config in configs.items():
        wd = work / Path(config).stem
        t = time.time()
        if reuse and (wd / 'last_checkpoint').exists():
            print(f'\n== {name}: reusing {wd}', flush=True)
        else:
            print(f'\n== training {name}: {config} (log: {wd}/train.log)', flush=True)
            run([py, 'tools/train.py', config, '--work-dir', str(wd), '--cfg-options', *opts], log=wd / 'train.log')
        ckpts[name] = (config, (wd / 'last_checkpoint').read_text().strip())
        times[f'train {name}'] = time.time() - t
    return ckpts


def report_and_test(model: tuple[str, str], baseline: tuple[str, str], work: Path, opts: list[str],
                    times: dict[str, float], unit: str = 'clip') -> tuple[Path, dict, dict]:
    """tools/report.py (100 clips timed), then tools/test.py with real early exit at the
    report's operating budget; returns (report folder, summary, test metrics)."""
    py, (config, ckpt) = sys.executable, model
    t = time.time()
    report = work / 'report'
    print(f'\n== compute report (thresholds fitted on val, reported on test): {report}/summary.md', flush=True)
    run([py, 'tools/report.py', config, ckpt, '--out', str(report), '--baseline', *baseline,
         '--latency', '100', '--cfg-options', *opts], log=work / 'report.log')
    summary = json.loads((report / 'summary.json').read_text())
    times['report (val + test, both models)'] = time.time() - t
    t = time.time()
    budget = summary['operating_point']['budget']
    metrics_file = work / 'test_early_exit.json'
    print(f'== test with early exit at {budget:.4g} GFLOPs per {unit} (tools/test.py --budget)', flush=True)
    run([py, 'tools/test.py', config, ckpt, '--budget', str(budget), '--out', str(metrics_file),
         '--work-dir', str(work / 'test'), '--cfg-options', *opts], log=work / 'test.log')
    times['test with early exit'] = time.time() - t
    return report, summary, json.loads(metrics_file.read_text())


def print_times(times: dict[str, float], report: Path | None = None) -> None:
    print('\n== phase times')
    for phase, seconds in times.items():
        print(f'{phase:<36}{seconds:>8.1f} s')
    print(f'{"total (after set-up)":<36}{sum(times.values()):>8.1f} s')
    if report is not None:
        print(f'\nthe report to browse (open it in a browser; one file, works offline): {report / "report.html"}')


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', default='data/demo', help='demo data folder')
    p.add_argument('--work-dir', default='work_dirs/demo', help='where checkpoints, logs and reports go')
    p.add_argument('--epochs', type=int, default=None, help='override the configs\' training epochs')
    args = p.parse_args()
    times: dict[str, float] = {}
    work = Path(args.work_dir)

    make_data(args.data, 'test.json', times)

    data_opts = [f'{split}_dataloader.dataset.{key}={args.data}/{value}'
                 for split in ('train', 'val', 'test')
                 for key, value in (('ann_file', f'{split}.json'), ('data_prefix', 'videos'),
                                    ('labels_file', 'labels.json'))]
    data_opts += epoch_options(args.epochs)
    ckpts = train_all(CONFIGS, work, data_opts, times)
    report, summary, early = report_and_test(ckpts['glance-focus (e2e)'], ckpts['static TSM'], work, data_opts, times)
    budget = summary['operating_point']['budget']

    full, base, costs = summary['no_early_exit'], summary['baseline'], summary['exit_costs']
    latency = summary['latency']
    ms = [e['mean_ms'] for e in latency['exits']]
    budget_ms = next(b['mean_ms'] for b in latency['budgets'] if b['budget'] == budget)
    rows = [('glance only (exit 0)', summary['anytime_top1'][0], costs[0], 0.0, ms[0]),
            ('glance + focus, all steps', full['top1'], full['mean_gflops'], len(costs) - 1, ms[-1]),
            (f'glance + focus, budget {budget:.3g}', early['top1'], early['gflops'], early['mean_exit'], budget_ms),
            ('static TSM', base['top1'], base['mean_gflops'], 0.0, latency['baseline']['mean_ms'])]
    print(f"\n== demo results (test split, 300 clips; ms: {latency['clips']} of them one at a time, fused, "
          f"on {latency['device']})")
    print(f'{"model":<34}{"top-1 %":>9}{"GFLOPs/clip":>13}{"vs static":>11}{"mean exit":>11}{"ms/clip":>9}')
    for name, top1, gflops, mean_exit, clip_ms in rows:
        print(f'{name:<34}{top1:>9.1f}{gflops:>13.4f}{gflops / base["mean_gflops"]:>10.2f}x{mean_exit:>11.2f}'
              f'{clip_ms:>9.2f}')
    print(f'\nbudget curve, plots and per-clip tables: {report}/summary.md')
    print_times(times, report)


if __name__ == '__main__':
    main()
