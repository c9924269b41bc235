"""A bad config fails before any work: exit status 2, one line naming the key and value, no traceback."""
from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT, TINY_GLANCE_FOCUS, TINY_STATIC, tiny_options

GF = 'configs/demo/glance_focus_e2e.py'
STATIC = 'configs/demo/tsm_static.py'


def run_failing(*args: str) -> str:
    """Run a tool that must refuse its config; return its single stderr line."""
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert 'Traceback' not in proc.stderr + proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith('error: ')
    return lines[0]


# (config, --cfg-options that break it, texts the error line must contain)
CASES = {
    'glance backbone': (GF, ['model.glance.backbone=resnet19'], ['model.glance.backbone', "'resnet19'"]),
    'focus backbone': (GF, ['model.focus.backbone=vgg'], ['model.focus.backbone', "'vgg'"]),
    'static backbone': (STATIC, ['model.backbone.backbone=resnet7'], ['model.backbone.backbone', "'resnet7'"]),
    'patch as large as the frame': (GF, ['model.focus.patch=64'], ['model.focus.patch=64', 'model.input_size=64']),
    'glance larger than the input': (GF, ['model.glance.size=96'], ['model.glance.size=96', 'model.input_size=64']),
    'no focus step': (GF, ['model.frames_per_step=8'], ['model.frames_per_step=8', 'no focus step']),
    'revisits without steps': (GF, ['model.revisit=True'], ['model.revisit=True', 'model.num_steps']),
    'num_classes vs labels': (STATIC, ['model.num_classes=10'], ['model.num_classes=10', 'labels.json',
                                                                  'has 12 classes']),
    'missing ann_file': (STATIC, ['train_dataloader.dataset.ann_file=/nonexistent/train.json'],
                         ['train_dataloader.dataset.ann_file', '/nonexistent/train.json', 'does not exist']),
    'missing val labels_file': (STATIC, ['val_dataloader.dataset.labels_file=/nonexistent/labels.json'],
                                ['val_dataloader.dataset.labels_file', '/nonexistent/labels.json']),
    'missing data_prefix': (STATIC, ['train_dataloader.dataset.data_prefix=/nonexistent/videos'],
                            ['train_dataloader.dataset.data_prefix', '/nonexistent/videos']),
    'num_segments vs num_frames': (STATIC, ['train_dataloader.dataset.num_segments=8'],
                                   ['train_dataloader.dataset.num_segments=8', 'model.num_frames=4']),
    'crop vs input size': (GF, ['val_dataloader.dataset.pipeline.1.size=48'],
                           ['val_dataloader.dataset.pipeline', '48x48', 'model.input_size=64']),
}


@pytest.mark.parametrize('case', list(CASES))
def test_bad_config_is_refused_naming_the_key(case, tiny_demo):
    """The check ``tools/train.py`` runs before anything else (in-process: one CLI run below)."""
    from gfvideo.engine.validation import ConfigError, validate_config
    config, bad, expected = CASES[case]
    cfg = _cfg(tiny_demo, config, *(TINY_GLANCE_FOCUS if config == GF else TINY_STATIC), *bad)
    with pytest.raises(ConfigError) as error:
        validate_config(cfg, 'train')
    line = str(error.value)
    assert '\n' not in line
    for text in expected:
        assert text in line, line


def test_train_refuses_a_bad_config_in_one_line(tiny_demo, tmp_path):
    config, bad, expected = CASES['num_segments vs num_frames']
    work = tmp_path / 'work'
    line = run_failing('tools/train.py', config, '--work-dir', str(work), '--cfg-options',
                       *tiny_options(tiny_demo), *TINY_STATIC, *bad)
    for text in expected:
        assert text in line, line
    assert not work.exists()  # refused before the runner made anything


def test_train_refuses_class_names_file_disagreeing(tiny_demo, tmp_path):
    from gfvideo.engine.validation import ConfigError, validate_config
    names = tmp_path / 'classes.txt'
    names.write_text(''.join(f'class {i}\n' for i in range(5)))
    cfg = _cfg(tiny_demo, STATIC, *TINY_STATIC, f'train_dataloader.dataset.class_names_file={names}')
    with pytest.raises(ConfigError) as error:
        validate_config(cfg, 'train')
    line = str(error.value)
    assert 'model.num_classes=12' in line and 'class_names_file' in line and 'has 5 classes' in line


def test_test_tool_checks_only_the_test_split(tiny_demo, tmp_path):
    """tools/test.py checks the test dataloader (and not the train split's paths)."""
    line = run_failing('tools/test.py', STATIC, str(tmp_path / 'none.pth'), '--work-dir', str(tmp_path),
                       '--cfg-options', *tiny_options(tiny_demo), *TINY_STATIC,
                       'train_dataloader.dataset.ann_file=/nonexistent/train.json',
                       'test_dataloader.dataset.ann_file=/nonexistent/test.json')
    assert 'test_dataloader.dataset.ann_file' in line and '/nonexistent/test.json' in line


def test_valid_demo_configs_pass(tiny_demo):
    from gfvideo.engine.validation import validate_config
    for config, extra in ((GF, TINY_GLANCE_FOCUS), (STATIC, TINY_STATIC)):
        cfg = _cfg(tiny_demo, config, *extra)
        for mode in ('train', 'test', 'report'):
            validate_config(cfg, mode)


def _typed(opts: dict[str, str]) -> dict:
    """``--cfg-options`` strings to values, as DictAction parses them."""
    from mmengine.config import DictAction
    return {k: DictAction._parse_iterable(v) for k, v in opts.items()}


def _cfg(tiny_demo, config: str, *extra: str):
    from gfvideo.engine.runner import build_config
    opts = dict(o.split('=', 1) for o in [*tiny_options(tiny_demo), *extra])
    return build_config(str(ROOT / config), work_dir='unused', cfg_options=_typed(opts))


def test_views_fit_and_anything_else_does_not(tiny_demo):
    """Twice sampling and three crops give views of num_frames each: fine. Dense sampling's
    window is its clip: it must hold num_frames too."""
    from gfvideo.engine.runner import build_config
    from gfvideo.engine.validation import ConfigError, check_dataset_fits_model
    cfg = _cfg(tiny_demo, GF, *TINY_GLANCE_FOCUS, 'test_dataloader.dataset.twice_sample=True',
               'test_dataloader.dataset.pipeline.1.type=ThreeCrop')
    check_dataset_fits_model(cfg.model, 'test_dataloader.dataset', cfg.test_dataloader.dataset)
    dense = dict(cfg.test_dataloader.dataset, twice_sample=False, sampling='dense', num_segments=8)
    with pytest.raises(ConfigError, match=r'test_dataloader\.dataset\.num_segments=8 but model\.num_frames=4'):
        check_dataset_fits_model(cfg.model, 'test_dataloader.dataset', dense)
    multi_view = build_config(str(ROOT / 'configs/tsm/tsm_r50_8f_sthv2_test_2clips3crops.py'), work_dir='unused')
    check_dataset_fits_model(multi_view.model, 'test_dataloader.dataset', multi_view.test_dataloader.dataset)
    with pytest.raises(ConfigError, match='makes 256x256 frames but model.input_size=224'):
        check_dataset_fits_model(multi_view.model, 'k', dict(multi_view.test_dataloader.dataset,
                                                             pipeline=[dict(type='Resize', scale=(256, 256))]))


def test_report_tool_refuses_a_bad_config(tiny_demo, tmp_path, capsys):
    """tools/report.py checks its val and test splits as tools/test.py does: one line, status 2."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('report_tool', ROOT / 'tools/report.py')
    report = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(report)
    opts = _typed(dict(o.split('=', 1) for o in [*tiny_options(tiny_demo), *TINY_STATIC,
                                                  'val_dataloader.dataset.num_segments=2']))
    with pytest.raises(SystemExit) as exit_:
        report.load(STATIC, str(tmp_path / 'none.pth'), opts, tmp_path / 'logs')
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ['error: val_dataloader.dataset.num_segments=2 but model.num_frames=4: each clip (view) '
                   'must hold the frames the model takes']
