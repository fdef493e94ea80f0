"""The Odoo delivery target: ERP postings filed as Odoo documents, looked up before created."""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx

from ...app.ports import Delivery
from ...app.targets import TargetIn
from ..erp.target import ErpTarget
from ..webhook import SendResult
from .client import Json2Client, JsonRpcClient, OdooCaller
from .config import OdooTargetSettings


def odoo_caller(
    config: TargetIn, client: httpx.AsyncClient, env: Mapping[str, str]
) -> tuple[OdooCaller, OdooTargetSettings]:
    """The Odoo client a target's settings describe; raises ValueError naming the key of a
    missing credential."""
    settings = OdooTargetSettings.model_validate(config.platform)
    secret = settings.secret(env)
    caller: OdooCaller
    if settings.protocol == "json2":
        caller = Json2Client(
            client, config.address, secret, settings.database, config.timeout_seconds
        )
    else:
        assert settings.database is not None and settings.login is not None
        caller = JsonRpcClient(
            client,
            config.address,
            settings.database,
            settings.login,
            secret,
            config.timeout_seconds,
        )
    return caller, settings


class OdooTarget:
    """Built by the dispatcher for each worker; credentials are read from the environment
    then. A missing variable fails each attempt (retried, then a dead letter) with an
    error naming the setting, rather than stopping the dispatcher."""

    def __init__(
        self,
        name: str,
        config: TargetIn,
        client: httpx.AsyncClient,
        env: Mapping[str, str] | None = None,
    ) -> None:
        from .documents import OdooDocuments

        self.name = name
        self.config = config
        self.problem: str | None = None
        self.erp: ErpTarget | None = None
        try:
            caller, settings = odoo_caller(config, client, os.environ if env is None else env)
        except ValueError as e:
            self.problem = str(e)
            return
        self.erp = ErpTarget(name, config, OdooDocuments(caller, settings))

    async def send(self, delivery: Delivery) -> SendResult:
        if self.erp is None:
            return SendResult(None, {}, self.problem, 0.0)
        self.erp.config = self.config
        return await self.erp.send(delivery)

    async def send_batch(self, deliveries: list[Delivery]) -> SendResult:
        if self.erp is None:
            return SendResult(None, {}, self.problem, 0.0)
        return await self.erp.send_batch(deliveries)
