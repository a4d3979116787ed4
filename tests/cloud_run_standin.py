"""A stand-in for the Cloud Run Admin API (run_v2 has no emulator), enforcing its long-running operations' shape.

`update_service` returns the SDK's own operation future (google.api_core.operation.from_gapic, as the generated
ServicesClient does) over an operations_pb2.Operation named projects/*/locations/*/operations/*; `get_operation`
takes an operations_pb2.GetOperationRequest (the generated client's signature) and returns the operation as the API
does: `done` false while it runs, then exactly one of `error` (a google.rpc.Status) or `response` (the Service,
packed in an Any). A test finishes an operation with `finish`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

OPERATION_NAME = re.compile(r"^projects/[^/]+/locations/[^/]+/operations/[^/]+$")


@dataclass
class Operations:
    """The API's operations, by name (what operations.get reads)."""

    ops: dict[str, Any] = field(default_factory=dict)  # name -> operations_pb2.Operation
    reads: int = 0

    def get(self, name: str) -> Any:
        from google.longrunning import operations_pb2

        if not OPERATION_NAME.match(name):
            raise ValueError(f"not an operation name: {name!r}")
        self.reads += 1
        out = operations_pb2.Operation()
        out.CopyFrom(self.ops[name])
        return out

    # The api_core OperationsClient surface `from_gapic` binds to.
    def get_operation(self, name: str, metadata: Any = None, **_: Any) -> Any:
        return self.get(name)

    def cancel_operation(self, name: str, metadata: Any = None, **_: Any) -> None:
        raise NotImplementedError("the executor never cancels an update")


@dataclass
class ServicesApi:
    """ServicesClient's get_service / update_service / get_operation over one project's services."""

    services: dict[str, Any]  # full name -> run_v2.Service
    operations: Operations = field(default_factory=Operations)
    updated: list[Any] = field(default_factory=list)
    instant: bool = False  # every update's operation is done when it is returned

    def get_service(self, name: str) -> Any:
        return self.services[name]

    def update_service(self, service: Any) -> Any:
        from google.api_core import operation
        from google.cloud import run_v2
        from google.longrunning import operations_pb2

        location = service.name.split("/")[3]
        project = service.name.split("/")[1]
        name = f"projects/{project}/locations/{location}/operations/{uuid.uuid4()}"
        self.operations.ops[name] = operations_pb2.Operation(name=name, done=False)
        self.updated.append(service)
        self.services[service.name] = service
        if self.instant:
            self.finish(name)
        return operation.from_gapic(self.operations.get(name), self.operations, run_v2.Service,
                                    metadata_type=run_v2.Service)

    def get_operation(self, request: Any = None, **_: Any) -> Any:
        from google.longrunning import operations_pb2

        if not isinstance(request, operations_pb2.GetOperationRequest):
            raise TypeError("get_operation takes an operations_pb2.GetOperationRequest")
        return self.operations.get(request.name)

    def finish(self, name: str, error: tuple[int, str] | None = None) -> None:
        """The operation ends: with the updated Service as its response, or with `error` (code, message)."""
        from google.cloud import run_v2
        from google.rpc import status_pb2

        op = self.operations.ops[name]
        op.done = True
        if error is not None:
            op.error.CopyFrom(status_pb2.Status(code=error[0], message=error[1]))
        else:
            service = self.updated[-1]
            op.response.Pack(run_v2.Service.pb(service))

    @property
    def last_operation(self) -> str:
        return list(self.operations.ops)[-1]
