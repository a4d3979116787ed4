"""The two messages of the pipeline's bus (re-exported by shared/models.py): a specialist's redelivered task reads
and sends them without importing the models of the incident log."""

from pydantic import BaseModel, ConfigDict


class BusMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, defer_build=True)  # as shared/models.py's Model


class Task(BusMessage):
    """A message on the tasks topic: one specialist, one round of one incident."""

    incident_id: str
    round: int = 1
    specialist: str


class FindingsReady(BusMessage):
    """A message on the findings topic: a specialist has reported for a round."""

    incident_id: str
    round: int = 1
    specialist: str
