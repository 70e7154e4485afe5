"""The ``commands:`` section: a script of container lifecycle steps, as an admin types them with
Docker (``pull``, ``create``, ``run``, ``start``, ``exec``, ``stop``, ``commit``, ``rm``,
``rmi``, ``push``) or with the PowerShell module of Windows Server 2016's previews
(``New-Container``, ``Start-Container``, ``Invoke-Command``, ``Stop-Container``,
``New-ContainerImage``, ``Remove-Container``, ``Remove-ContainerImage``,
``Install-ContainerImage``).

Owns: the keys of a script and of each step, the two spellings of each command, and the text a
step is shown as. Must not: check a script against the scenario (``sim.edge.commands``) or run
it (``sim.model.commands``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    PrivateAttr,
    model_validator,
)

from sim.spec.values import Distribution, Duration, Size, Spec

NAME = r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$"
Name = Annotated[str, Field(pattern=NAME, max_length=200)]

# Each command: its Docker name (the field), and its PowerShell name
ACTIONS: dict[str, str] = {
    "pull": "Install-ContainerImage",
    "create": "New-Container",
    "run": "",
    "start": "Start-Container",
    "exec": "Invoke-Command",
    "stop": "Stop-Container",
    "commit": "New-ContainerImage",
    "rm": "Remove-Container",
    "rmi": "Remove-ContainerImage",
    "push": "",
}

def _other_names(schema: dict[str, Any], model: type[Spec]) -> None:
    """The JSON Schema of ``model`` with each field's other names (its PowerShell spelling)
    as properties of their own, so that an editor accepts ``New-Container:`` as ``create:``."""
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    either = []
    for name, info in model.model_fields.items():
        choices = info.validation_alias
        if isinstance(choices, AliasChoices) and name in properties:
            names = [c for c in choices.choices if isinstance(c, str)]
            for other in names:
                properties[other] = properties[name]
            if name in required:  # required under one of its names
                required.remove(name)
                either.append({"anyOf": [{"required": [other]} for other in names]})
    if either:
        schema["allOf"] = either


# Docker's default memory for a Hyper-V isolated container: a utility VM of 1 GB (P. Lang,
# MicrosoftDocs/Virtualization-Documentation #477; docker/for-win #321), and 2 processors
# (Microsoft, resource-controls.md); process isolation has no default limit, so the same
# figures are taken as the container's share for the host's bookkeeping (an estimate)
DEFAULT_MEMORY = 1024.0**3
DEFAULT_CPUS = 2.0


class ContainerCommand(Spec):
    """``create`` / ``run`` / ``New-Container``: a container from an image."""

    model_config = ConfigDict(**Spec.model_config, json_schema_extra=_other_names)

    name: Name = Field(description="required: the container's name, as later steps call it "
                                   "(docker run --name)")
    image: Name = Field(
        validation_alias=AliasChoices("image", "ContainerImage"),
        description="required: the image, one of images: or one an earlier commit made; "
                    "pulled first if the host lacks it")
    isolation: str = Field("default", description="process | hyperv (docker run --isolation), "
                                                  "vm or another profile; default: the "
                                                  "script's, which compare: sets")
    memory: Annotated[Size, Field(gt=0)] = Field(
        DEFAULT_MEMORY, description="the memory limit (docker run --memory); default 1 GiB, "
                                    "Docker's default utility VM under Hyper-V isolation")
    cpus: Annotated[float, Field(gt=0, le=1024)] = Field(
        DEFAULT_CPUS, description="processors (docker run --cpus); default 2, Docker's "
                                  "default under Hyper-V isolation")


class ExecCommand(Spec):
    """``exec`` / ``Invoke-Command``: work inside a running container, such as installing a
    Windows feature."""

    container: Name = Field(description="required: the running container it works in")
    duration: Distribution = Field(description="required: how long the work takes, e.g. 3min "
                                               "or {dist: lognormal, median: 3min, p95: 6min}")
    writes: Annotated[Size, Field(ge=0)] = Field(
        0.0, description="bytes it writes to the container's own layer, which a commit "
                         "turns into a new image layer")
    command: str = Field("", description="free text: what it runs, e.g. Install-WindowsFeature "
                                         "Web-Server (shown in the tables)")


class CommitCommand(Spec):
    """``commit`` / ``New-ContainerImage``: a container's changes become a new image layer on
    top of its image."""

    model_config = ConfigDict(**Spec.model_config, json_schema_extra=_other_names)

    container: Name = Field(description="required: the container whose changes are committed")
    image: Name = Field(validation_alias=AliasChoices("image", "name"),
                        description="required: the new image's name (PowerShell: -Name)")
    layer: Annotated[Size, Field(ge=0)] | None = Field(
        None, description="the new layer's size; default: what the container's execs wrote")
    publisher: str = Field("", description="PowerShell's -Publisher (shown by images)")
    version: str = Field("", description="PowerShell's -Version (shown by images as its tag)")


class CommandStep(Spec):
    """One step: one command (its Docker or its PowerShell name), and when it may start."""

    model_config = ConfigDict(**Spec.model_config, json_schema_extra=_other_names)

    at: Annotated[Duration, Field(ge=0)] | None = Field(
        None, description="start at this time (or when the step before ends, if later); "
                          "default: when the step before ends")
    pull: Name | None = Field(None, validation_alias=AliasChoices("pull", ACTIONS["pull"]),
                              description="an image to pull (Install-ContainerImage)")
    create: ContainerCommand | None = Field(
        None, validation_alias=AliasChoices("create", ACTIONS["create"]),
        description="create a container, not started (New-Container)")
    run: ContainerCommand | None = Field(None, description="create and start a container")
    start: Name | None = Field(None, validation_alias=AliasChoices("start", ACTIONS["start"]),
                               description="start (boot) a created or stopped container "
                                           "(Start-Container)")
    exec: ExecCommand | None = Field(None, validation_alias=AliasChoices("exec", ACTIONS["exec"]),
                              description="work inside a running container (Invoke-Command)")
    stop: Name | None = Field(None, validation_alias=AliasChoices("stop", ACTIONS["stop"]),
                              description="stop a running container (Stop-Container)")
    commit: CommitCommand | None = Field(
        None, validation_alias=AliasChoices("commit", ACTIONS["commit"]),
        description="a container's changes as a new image (New-ContainerImage)")
    rm: Name | None = Field(None, validation_alias=AliasChoices("rm", ACTIONS["rm"]),
                            description="remove a stopped container (Remove-Container)")
    rmi: Name | None = Field(None, validation_alias=AliasChoices("rmi", ACTIONS["rmi"]),
                             description="remove an image no container uses "
                                         "(Remove-ContainerImage)")
    push: Name | None = Field(None, description="upload an image's layers the registry lacks")
    _written: str = PrivateAttr("")

    @model_validator(mode="before")
    @classmethod
    def _one(cls, data: Any) -> Any:
        if isinstance(data, dict):
            given = [k for k in data if k != "at"]
            known = [k for k in given if k in ACTIONS or k in ACTIONS.values()]
            if len(known) > 1:
                raise ValueError(f"one command per step (got {', '.join(known)}); make each "
                                 "its own step")
            empty = [k for k in known if data[k] is None]
            if empty:
                raise ValueError(f"{empty[0]}: give what it acts on (a name, or a mapping "
                                 "of its keys)")
            if not given:
                raise ValueError("a step needs a command: one of " + ", ".join(
                    [*ACTIONS, *(v for v in ACTIONS.values() if v)]))
        return data

    @model_validator(mode="wrap")
    @classmethod
    def _spelling(cls, data: Any, handler: Any) -> CommandStep:
        """Remember the name the command was written with (Docker's or PowerShell's)."""
        step = handler(data)
        if isinstance(data, dict):
            step._written = next((k for k in data if k != "at"), step.action)  # noqa: SLF001
        return step  # type: ignore[no-any-return]

    @property
    def written(self) -> str:
        """The command's name as the scenario wrote it."""
        return self._written or self.action

    @property
    def action(self) -> str:
        """The command, by its Docker name."""
        return next(a for a in ACTIONS if getattr(self, a) is not None)

    @property
    def args(self) -> Any:
        """What the command was given: a name, or its mapping."""
        return getattr(self, self.action)

    def container(self) -> str:
        """The container the step acts on ('' for an image command)."""
        args = self.args
        if isinstance(args, ContainerCommand):
            return args.name
        if isinstance(args, (ExecCommand, CommitCommand)):
            return args.container
        return args if self.action in ("start", "stop", "rm") else ""

    def image(self) -> str:
        """The image the step reads or makes ('' for start, exec, stop, rm)."""
        args = self.args
        if isinstance(args, (ContainerCommand, CommitCommand)):
            return args.image
        return args if self.action in ("pull", "rmi", "push") else ""

    def label(self) -> str:
        """The step as Docker's command line, with ``--isolation`` only where the step sets
        it (the same in every compared variant)."""
        args = self.args
        isolation = args.isolation if isinstance(args, ContainerCommand) else "default"
        return self.text("" if isolation == "default" else isolation)

    def text(self, isolation: str) -> str:
        """The step as Docker's command line, ``isolation`` the one it runs under ('': not
        shown)."""
        args = self.args
        action = self.action
        if isinstance(args, ContainerCommand):
            flag = f"--isolation={isolation} " if isolation else ""
            return f"docker {action} {flag}--name {args.name} {args.image}"
        if isinstance(args, ExecCommand):
            return f"docker exec {args.container} {args.command}".rstrip()
        if isinstance(args, CommitCommand):
            return f"docker commit {args.container} {args.image}"
        return f"docker {action} {args}"


class Commands(Spec):
    """A script of lifecycle steps run in order on one host (or on each host of a group, each
    its own copy at once). A bare list of steps is a script on the first host."""

    host: str | None = Field(None, description="the host it runs on, by name as the results "
                                               "call it (standard-01); default the first")
    group: str | None = Field(None, description="instead of host: every host of this group "
                                                "runs the script, each its own copy")
    isolation: str = Field("process", description="the isolation of run and create steps "
                                                  "that do not set theirs; compare: "
                                                  "isolation sets it per variant")
    steps: Annotated[list[CommandStep], Field(min_length=1)] = Field(
        description="required: the steps, in order")

    @model_validator(mode="before")
    @classmethod
    def _bare(cls, data: Any) -> Any:
        """A bare list of steps is a script on the first host."""
        if isinstance(data, list):
            return {"steps": data}
        if not isinstance(data, dict):
            raise ValueError("a list of steps, or a mapping {host: NAME, steps: "
                             "[...]}")
        return data

    @model_validator(mode="after")
    def _where(self) -> Commands:
        if self.host is not None and self.group is not None:
            raise ValueError("give host or group, not both")
        return self

    @classmethod
    def __get_pydantic_json_schema__(cls, core: Any, handler: GetJsonSchemaHandler
                                     ) -> dict[str, Any]:
        """The mapping's schema, or the bare list of steps that is a script on the first
        host."""
        mapping = handler(core)
        steps = handler.resolve_ref_schema(mapping)["properties"]["steps"]
        described = {k: v for k, v in handler.resolve_ref_schema(mapping).items()
                     if k in ("title", "description")}
        return {**described, "anyOf": [{**steps, "description": "the steps, on the first "
                                                                "host"}, mapping]}

    def isolation_of(self, step: CommandStep) -> str:
        """The isolation a run or create step uses."""
        args = step.args
        chosen = args.isolation if isinstance(args, ContainerCommand) else "default"
        return self.isolation if chosen == "default" else chosen


Action = Literal["pull", "create", "run", "start", "exec", "stop", "commit", "rm", "rmi", "push"]
