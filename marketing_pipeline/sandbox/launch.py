"""Start both sandboxes together, seeded from one dataset, and say how to point the pipeline at them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from marketing_pipeline.sandbox.connectwise_api import ConnectWiseSandbox
from marketing_pipeline.sandbox.dataset import Dataset, generate
from marketing_pipeline.sandbox.encharge_api import EnchargeSandbox

DEFAULT_CW_PORT = 8701
DEFAULT_ENCHARGE_PORT = 8702


@dataclass
class Sandboxes:
    dataset: Dataset
    connectwise: ConnectWiseSandbox
    encharge: EnchargeSandbox

    def env(self) -> dict[str, str]:
        return {**self.connectwise.env(), **self.encharge.env()}


@contextmanager
def running_sandboxes(
    *,
    size: int = 86,
    seed: int = 7,
    cw_port: int = 0,
    encharge_port: int = 0,
    state_file: Path | None = None,
    encharge: str = "overlap",
    hidden_limit_per_second: float = 0.0,
    hidden_limit_burst: float = 0.0,
    host: str = "127.0.0.1",
) -> Iterator[Sandboxes]:
    """`hidden_limit_*`: the Encharge sandbox's unpublished rate limit (see `EnchargeModes`). `host`: the
    address both serve on (a container network's gateway, for the deployment tests)."""
    dataset = generate(size, seed=seed, encharge=encharge)
    with (
        ConnectWiseSandbox(dataset.companies, dataset.contacts, port=cw_port, host=host) as cw,
        EnchargeSandbox(dataset.people, state_file=state_file, port=encharge_port, host=host) as en,
    ):
        en.modes.configure(
            {"hidden_limit_per_second": hidden_limit_per_second, "hidden_limit_burst": hidden_limit_burst}
        )
        yield Sandboxes(dataset=dataset, connectwise=cw, encharge=en)


def sandbox_env(cw_port: int = DEFAULT_CW_PORT, encharge_port: int = DEFAULT_ENCHARGE_PORT) -> dict[str, str]:
    """The variables that point the pipeline at sandboxes on these ports (credentials are the sandboxes')."""
    from marketing_pipeline.sandbox.connectwise_api import API_ROOT
    from marketing_pipeline.sandbox.encharge_api import SANDBOX_TOKEN

    defaults = ConnectWiseSandbox.__init__.__kwdefaults__ or {}
    return {
        "CW_BASE_URL": f"http://127.0.0.1:{cw_port}{API_ROOT}",
        "CW_COMPANY_ID": defaults["company_id"],
        "CW_PUBLIC_KEY": defaults["public_key"],
        "CW_PRIVATE_KEY": defaults["private_key"],
        "CW_CLIENT_ID": defaults["client_id"],
        "ENCHARGE_BASE_URL": f"http://127.0.0.1:{encharge_port}/v1/",
        "ENCHARGE_REST_API_KEY": SANDBOX_TOKEN,
    }
