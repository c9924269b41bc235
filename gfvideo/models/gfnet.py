"""GFNet's own parts (GFNet-Pytorch, the official image code): its policy and its classifiers.

- ``POLICIES['gfnet']`` (:class:`GFNetPolicy`): the actor-critic of GFNet's ``network.py``.
  A state encoder reads the detached feature map of the previous step's look (the glance's
  before the first focus step, the focus network's after: ``Observation.previous_maps``),
  an MLP for ResNet / DenseNet or a 1x1 conv to 32 channels and a linear layer for
  MobileNetV3 / EfficientNet / RegNet; a GRU carries the policy's own state across steps
  (``Observation.policy_state`` / ``Action.policy_state``); the actor's sigmoid gives the
  action mean, the patch's top-left corner as a fraction of ``S - P`` in (row, col) order,
  Gaussian with std 0.1 (clipped to [0, 1]) in training, the mean at test time; the critic
  reads the same GRU output.
- ``AGGREGATORS['gfnet_gru']`` (:class:`GFNetGRUAggregator`): the ResNet / DenseNet / RegNet
  classifier, a GRU (hidden 1024) fed each step's pooled feature straight (the glance's at
  exit 0), then one linear layer. gfvideo's ``'gru'`` aggregator differs: it projects the
  features (and the glance feature of the focused frame) through a ReLU layer first.
- ``AGGREGATORS['gfnet_concat']`` (:class:`GFNetConcatAggregator`): the MobileNetV3 /
  EfficientNet classifier, the pooled features of every step so far concatenated into one
  linear layer per length (GFNet's ``fc_2 .. fc_5``; exit 0 is the glance encoder's own
  classifier). Its exits cost more the later they are: steps of unequal cost.

With the crop's ``rounding='floor'`` and the glance's ``resize=dict(mode='bicubic',
align_corners=True, antialias=False)`` these reproduce the official model's outputs from its
converted weights (``tools/convert_checkpoint.py --from gfnet``, ``tests/test_gfnet_convert.py``).
Conventions and sources: docs/references.md#gfnet-pytorch-checkpoints.
"""
from __future__ import annotations

import torch
from torch import nn

from ..registry import AGGREGATORS, POLICIES
from .policy import Action, Observation, Policy, gaussian_centers, next_frames


@POLICIES.register_module(name='gfnet')
class GFNetPolicy(Policy):
    """GFNet's recurrent actor-critic (module names as in its ``ActorCritic``).

    Args:
        map_size: side of the feature map it reads (``ceil(P / 32)`` for GFNet's backbones).
        in_channels: channels of that map (default: the glance feature map's).
        encoder: ``'mlp'`` (``state_dim -> 2048 -> hidden``, ResNet / DenseNet) or ``'conv'``
            (1x1 conv to 32 channels, then ``-> hidden``).
        hidden: the GRU's width (1024 for ResNet, 256 for the others).
        std: the Gaussian's standard deviation in training.

    A step's frames: the ``'fixed'`` rule (for images, always the one frame). With several
    frames in the previous step the maps are averaged over them. Re-scoring a stored action
    (``forward(obs, k, action=old)``, PPO) restarts the GRU from the stored
    ``Observation.policy_state``, so the update does not back-propagate through earlier steps
    (GFNet's ``evaluate`` reruns the whole sequence).
    """

    reads_previous_maps = True
    actor_critic = True

    def __init__(self, glance_channels: int, state_channels: int, patch_fraction: float, map_size: int,
                 in_channels: int | None = None, encoder: str = 'mlp', hidden: int = 1024, std: float = 0.1,
                 frames: str = 'fixed', generator: torch.Generator | None = None) -> None:
        super().__init__(glance_channels, state_channels, patch_fraction, frames=frames, generator=generator)
        if std <= 0:
            raise ValueError(f'std must be positive, got {std}')
        channels = in_channels or glance_channels
        self.map_shape = (channels, map_size, map_size)
        cells = map_size * map_size
        if encoder == 'mlp':
            self.state_encoder = nn.Sequential(nn.Linear(channels * cells, 2048), nn.ReLU(),
                                               nn.Linear(2048, hidden), nn.ReLU())
        elif encoder == 'conv':
            self.state_encoder = nn.Sequential(nn.Conv2d(channels, 32, 1, bias=False), nn.ReLU(), nn.Flatten(),
                                               nn.Linear(32 * cells, hidden), nn.ReLU())
        else:
            raise ValueError(f"encoder must be 'mlp' or 'conv', got {encoder!r}")
        self.encoder, self.hidden, self.std = encoder, hidden, float(std)
        self.gru = nn.GRUCell(hidden, hidden)
        self.actor = nn.Sequential(nn.Linear(hidden, 2), nn.Sigmoid())
        self.critic = nn.Sequential(nn.Linear(hidden, 1))

    def recurrent(self, obs: Observation) -> torch.Tensor:
        """The GRU's output ``[B, hidden]`` after reading the previous step's maps."""
        maps = obs.previous_maps
        if maps is None and obs.policy_state is None:   # the first step (as the cost counter calls it)
            maps = obs.glance_maps
        if maps is None:
            raise ValueError("the 'gfnet' policy reads Observation.previous_maps, which is None here")
        maps = maps.detach().mean(1)                                       # [B, C, h, w]
        if tuple(maps.shape[1:]) != self.map_shape:
            raise ValueError(f"the 'gfnet' policy reads {self.map_shape} maps, got {tuple(maps.shape[1:])}: "
                             f'set its map_size / in_channels (and the glance feature_stage=4)')
        x = self.state_encoder(maps.flatten(1) if self.encoder == 'mlp' else maps)
        state = obs.policy_state
        if state is None:
            state = x.new_zeros(x.shape[0], self.hidden)
        return self.gru(x, state)

    def forward(self, obs: Observation, k: int, action: Action | None = None) -> Action:
        frames = next_frames(obs.looks, obs.available, k) if action is None else action.frames
        h = self.recurrent(obs)
        corner = self.actor(h)                                             # [B, 2] (row, col)
        mean = corner.flip(-1)[:, None].expand(-1, frames.shape[1], -1)    # [B, K, 2] (x, y)
        if action is None and not self.training:
            return Action(frames=frames, centers=mean, policy_state=h)
        centers, log_prob, entropy = gaussian_centers(mean, self.std, self.generator, action)
        return Action(frames=frames, centers=centers, log_prob=log_prob, value=self.critic(h).squeeze(-1),
                      entropy=entropy, policy_state=h)


def _check_equal_widths(name: str, glance_channels: int, focus_channels: int) -> None:
    """GFNet's classifiers read glance and focus features alike: one width."""
    if glance_channels != focus_channels:
        raise ValueError(f"the {name!r} aggregator needs equal glance and focus widths, "
                         f'got {glance_channels} and {focus_channels}')


@AGGREGATORS.register_module(name='gfnet_gru')
class GFNetGRUAggregator(nn.Module):
    """GFNet's recurrent classifier: ``h_t = GRU(feature_t, h_{t-1})``, ``logits_t = fc(h_t)``.

    Exit 0 reads the glance's pooled feature (averaged over frames), each step the focus
    features (averaged over the step's frames); the glance feature of the focused frame is
    not used. ``focus_channels`` must equal ``glance_channels``.
    """

    def __init__(self, glance_channels: int, focus_channels: int, num_classes: int, num_exits: int,
                 hidden: int = 1024) -> None:
        super().__init__()
        _check_equal_widths('gfnet_gru', glance_channels, focus_channels)
        self.hidden = hidden
        self.gru = nn.GRUCell(glance_channels, hidden)
        self.fc = nn.Linear(hidden, num_classes)

    def init(self, glance_pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        state = self.gru(glance_pooled.mean(1))
        return state, self.fc(state)

    def step(self, state: torch.Tensor, glance_sel: torch.Tensor,
             focus: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        state = self.gru(focus.mean(1), state)
        return state, self.fc(state)


@AGGREGATORS.register_module(name='gfnet_concat')
class GFNetConcatAggregator(nn.Module):
    """GFNet's cascaded classifier: exit t reads the pooled features of steps 0..t concatenated.

    ``heads[t]`` is ``Linear((t + 1) * C, classes)`` (GFNet-Pytorch: ``heads[0]`` is the glance
    encoder's ``classifier``, ``heads[t]`` its ``fc_{t+1}``). The state is ``[B, E * C + 1]``:
    the features so far, zero where a step has not run, and the number of steps in them, so
    its width is fixed for the policies that read it. ``dropout`` acts on each feature in
    training (GFNet: the backbone's ``drop_rate``, 0.2 for MobileNetV3, 0.3 for EfficientNet).
    Features are averaged over a step's frames; ``focus_channels`` must equal ``glance_channels``.
    """

    def __init__(self, glance_channels: int, focus_channels: int, num_classes: int, num_exits: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        _check_equal_widths('gfnet_concat', glance_channels, focus_channels)
        self.channels, self.num_exits = glance_channels, num_exits
        self.hidden = num_exits * glance_channels + 1
        self.heads = nn.ModuleList(nn.Linear((t + 1) * glance_channels, num_classes) for t in range(num_exits))
        self.dropout = nn.Dropout(dropout)

    def init(self, glance_pooled: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.dropout(glance_pooled.mean(1))
        rest = x.new_zeros(x.shape[0], self.hidden - self.channels)
        rest[:, -1] = 1
        return torch.cat([x, rest], 1), self.heads[0](x)

    def step(self, state: torch.Tensor, glance_sel: torch.Tensor,
             focus: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        t = int(state[0, -1])              # steps so far: the same for every row of a batch
        if t >= self.num_exits:
            raise ValueError(f"the 'gfnet_concat' aggregator has {self.num_exits} exits; step {t} is past them")
        c = self.channels
        seen = torch.cat([state[:, :t * c], self.dropout(focus.mean(1))], 1)
        rest = state[:, (t + 1) * c:].clone()
        rest[:, -1] = t + 1
        return torch.cat([seen, rest], 1), self.heads[t](seen)
