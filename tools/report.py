"""Per-clip compute report: ``python tools/report.py CONFIG CHECKPOINT --out DIR [--budgets ...]``.

Evaluates the held-out split (the config's ``val_dataloader``: carved from training
data) and the reported split (``test_dataloader``) at every exit, fits early-exit
thresholds for each budget on the held-out clips, applies them to the reported clips,
and writes tables, a summary, plots, a one-page summary.md and report.html, a page to
browse every clip with its focus patches (see gfvideo/report).
``--fit optimal`` (default) fits the most accurate thresholds within each budget on an exit
score (``--score``; ``auto`` picks max_prob, margin or a learned head by a reserved part of
the held-out split), ``--fit geometric`` puts the operating point on MSDNet's procedure
instead; both curves are reported. ``--baseline CONFIG CHECKPOINT`` adds a static model's
accuracy and cost for comparison. ``--latency N`` times N clips one at a time through the
model fused for inference, under every exit rule (and the baseline), on this machine: mean ms
beside GFLOPs, a plot of accuracy against latency, per-clip ms at the operating point.
The operating curve's rules go to CHECKPOINT.exits.json.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gfvideo.compute.exit_scores import SCORES
from gfvideo.compute.exits import FITS, sidecar_json, sidecar_path
from gfvideo.engine.atomic import atomic_write
from gfvideo.engine.runner import DictAction, build_config, build_runner
from gfvideo.engine.validation import ConfigError, validate_config
from gfvideo.report import collect, default_budgets, fitted_rules, write_report
from gfvideo.report.html import write_html
from gfvideo.report.latency import ClipClock
from gfvideo.runtime import tune_malloc


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--out', required=True, help='report folder')
    p.add_argument('--budgets', type=float, nargs='+', help='mean GFLOPs per clip (default: 5 between the first and last exit)')
    p.add_argument('--budget', type=float, help='operating point of the per-clip table (default: the middle budget)')
    p.add_argument('--fit', choices=FITS, default='optimal',
                   help='thresholds of the operating point and the sidecar: the most accurate within the budget '
                        '(optimal) or the MSDNet procedure (geometric); both curves are reported')
    p.add_argument('--score', choices=('auto', *SCORES), default='auto',
                   help='exit score of the fitted thresholds (auto: the best on a reserved part of the held-out split)')
    p.add_argument('--baseline', nargs=2, metavar=('CONFIG', 'CHECKPOINT'), help='a static model to compare with')
    p.add_argument('--latency', type=int, default=0, metavar='N',
                   help='time N reported clips at batch 1 (fused, model time only) under every exit rule')
    p.add_argument('--examples', type=int, default=4, help='clips drawn with their focus boxes')
    p.add_argument('--html-thumbnails', type=int, default=300,
                   help='report.html: clips with a thumbnail, stratified by exit and correctness (all if fewer)')
    p.add_argument('--html-wrong', type=int, default=200, help='report.html: wrong clips thumbnailed on top of those')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config keys')
    p.add_argument('--baseline-cfg-options', nargs='+', action=DictAction,
                   help="override the baseline's config keys (default: the same as --cfg-options)")
    return p.parse_args()


def load(config: str, checkpoint: str, cfg_options: dict | None, work_dir: Path, mode: str = 'report'):
    """The config checked as tools/test.py checks it (exit status 2 on a bad one), and its runner
    with the checkpoint loaded; ``mode``: the splits it reads (val and test, or test only)."""
    try:
        cfg = build_config(config, work_dir=str(work_dir), cfg_options=cfg_options, load_from=checkpoint)
        validate_config(cfg, mode)
    except ConfigError as exc:
        print(f'error: {exc}', file=sys.stderr)
        sys.exit(2)
    cfg.log_level = 'WARNING'
    runner = build_runner(cfg)
    runner.load_checkpoint(checkpoint)
    return cfg, runner


def main() -> None:
    args = parse_args()
    tune_malloc()
    out = Path(args.out)
    cfg, runner = load(args.config, args.checkpoint, args.cfg_options, out / 'logs')
    model = runner.model
    test_loader = runner.build_dataloader(cfg.test_dataloader)
    held_out = collect(model, runner.build_dataloader(cfg.val_dataloader))
    table = collect(model, test_loader)
    budgets = args.budgets or default_budgets(table.exit_costs)
    budget = args.budget if args.budget is not None else budgets[len(budgets) // 2]
    dataset = test_loader.dataset
    clock = ClipClock.build(model, dataset, table, args.latency) if args.latency > 0 else None
    baseline = baseline_clock = None
    if args.baseline:
        options = args.baseline_cfg_options if args.baseline_cfg_options is not None else args.cfg_options
        bcfg, brunner = load(*args.baseline, options, out / 'logs_baseline', mode='test')
        bloader = brunner.build_dataloader(bcfg.test_dataloader)
        baseline = collect(brunner.model, bloader)
        if args.latency > 0:
            baseline_clock = ClipClock.build(brunner.model, bloader.dataset, baseline, args.latency)

    def load_frames(i: int):
        return dataset[table.indices[i]]['inputs'].permute(0, 2, 3, 1).numpy()

    # a split is named by its annotation file, or by its folder (an ImageDataset of class folders)
    split_of = lambda d: str(d.get('ann_file') or d.get('data_prefix'))  # noqa: E731
    meta = dict(config=args.config, checkpoint=args.checkpoint, split=split_of(cfg.test_dataloader.dataset),
                held_out=split_of(cfg.val_dataloader.dataset), frame_hw=[cfg.model.input_size] * 2)
    summary = write_report(out, table, held_out, budgets, budget, dataset.metainfo.get('classes', []), meta,
                           baseline=baseline, load_frames=load_frames, num_examples=args.examples,
                           fit=args.fit, score=args.score, clock=clock, baseline_clock=baseline_clock)
    page = write_html(out, summary, load_frames=load_frames, thumbnails=args.html_thumbnails, wrong=args.html_wrong)
    # The fitted thresholds travel beside the checkpoint, for tools/test.py --budget; written
    # like checkpoints (temporary file, fsync, rename), so a kill leaves the old file or the new.
    sidecar = sidecar_path(args.checkpoint)
    atomic_write(sidecar, sidecar_json(fitted_rules(summary), args.fit))
    print((out / 'summary.md').read_text().split('\n\nBudgets:')[0])
    print(f'report written to {out} (open {page} in a browser); thresholds to {sidecar}')


if __name__ == '__main__':
    main()
