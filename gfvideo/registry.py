"""gfvideo's registries: children of mmengine's, so configs name our classes by ``type``.

Configs set ``default_scope = 'gfvideo'``; every mmengine registry gets a ``gfvideo``
child so lookups from that scope fall back to mmengine's own entries (loops, optimizers,
hooks) without warnings. Collate functions are looked up by mmengine's data-loader
builder in the root registry only, so ``FUNCTIONS`` is mmengine's root registry itself.
"""
from mmengine import registry as mm
from mmengine.registry import Registry

FUNCTIONS = mm.FUNCTIONS


def _child(parent: Registry, name: str, locations: list[str]) -> Registry:
    return Registry(name, parent=parent, scope='gfvideo', locations=locations)


MODELS = _child(mm.MODELS, 'model', ['gfvideo.models'])
DATASETS = _child(mm.DATASETS, 'dataset', ['gfvideo.data'])
TRANSFORMS = _child(mm.TRANSFORMS, 'transform', ['gfvideo.data'])
DATA_SAMPLERS = _child(mm.DATA_SAMPLERS, 'data sampler', ['gfvideo.data'])
METRICS = _child(mm.METRICS, 'metric', ['gfvideo.engine'])
HOOKS = _child(mm.HOOKS, 'hook', ['gfvideo.engine'])
LOOPS = _child(mm.LOOPS, 'loop', ['gfvideo.engine'])
RUNNERS = _child(mm.RUNNERS, 'runner', ['gfvideo.engine'])
RUNNER_CONSTRUCTORS = _child(mm.RUNNER_CONSTRUCTORS, 'runner constructor', ['gfvideo.engine'])
MODEL_WRAPPERS = _child(mm.MODEL_WRAPPERS, 'model_wrapper', ['gfvideo.engine'])
WEIGHT_INITIALIZERS = _child(mm.WEIGHT_INITIALIZERS, 'weight initializer', ['gfvideo.models'])
OPTIMIZERS = _child(mm.OPTIMIZERS, 'optimizer', ['gfvideo.engine'])
OPTIM_WRAPPERS = _child(mm.OPTIM_WRAPPERS, 'optim_wrapper', ['gfvideo.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = _child(mm.OPTIM_WRAPPER_CONSTRUCTORS, 'optimizer wrapper constructor',
                                    ['gfvideo.engine'])
PARAM_SCHEDULERS = _child(mm.PARAM_SCHEDULERS, 'parameter scheduler', ['gfvideo.engine'])
EVALUATOR = _child(mm.EVALUATOR, 'evaluator', ['gfvideo.engine'])
TASK_UTILS = _child(mm.TASK_UTILS, 'task util', ['gfvideo.models'])
VISUALIZERS = _child(mm.VISUALIZERS, 'visualizer', ['gfvideo.engine'])
VISBACKENDS = _child(mm.VISBACKENDS, 'vis_backend', ['gfvideo.engine'])
LOG_PROCESSORS = _child(mm.LOG_PROCESSORS, 'log_processor', ['gfvideo.engine'])
INFERENCERS = _child(mm.INFERENCERS, 'inferencer', ['gfvideo.engine'])
STRATEGIES = _child(mm.STRATEGIES, 'strategy', ['gfvideo.engine'])

# The parts a recognizer is built from, each in a registry of its own (short names such as
# ``gru`` or ``random`` don't collide with models). A user registers a part in their own
# module, loads it with ``custom_imports``, and names it by ``type=`` in a config.
BACKBONES = Registry('backbone', scope='gfvideo', locations=['gfvideo.models'])
POLICIES = Registry('policy', scope='gfvideo', locations=['gfvideo.models'])
AGGREGATORS = Registry('aggregator', scope='gfvideo', locations=['gfvideo.models'])
OBJECTIVES = Registry('objective', scope='gfvideo', locations=['gfvideo.models'])
