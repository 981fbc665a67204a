"""HTTP controllers of policies and training."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, get, patch, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.openapi.spec import Schema
from litestar.openapi.spec.enums import OpenAPIFormat, OpenAPIType
from litestar.params import Body, FromQuery, JSONBody
from msgspec import structs

from register.access import object_guard
from register.openapi import ActorDep, Id, Limit, Offset, QueryId, changes_in, problems
from register.policies import flows, services
from register.policies.files import import_completions
from register.policies.schemas import (
    AcknowledgementOut,
    AskedOut,
    CompletionIn,
    CompletionOut,
    CompletionPage,
    CourseCreate,
    CourseOut,
    CourseUpdate,
    CoverageOut,
    DraftIn,
    FindingOut,
    ImportResult,
    MyPolicy,
    MyTraining,
    PolicyCreate,
    PolicyOut,
    PolicySummary,
    PolicyUpdate,
    PublishedOut,
    PublishIn,
    StandingOut,
    TrainingCoverageOut,
    VersionOut,
)

COMPLETIONS_FORM = {
    "type": OpenAPIType.OBJECT,
    "properties": {
        "file": Schema(
            type=OpenAPIType.STRING,
            format=OpenAPIFormat.BINARY,
            description="CSV with the columns email, course, completed_on and optional evidence.",
        ),
        "date_order": Schema(
            type=OpenAPIType.STRING,
            enum=["DMY", "MDY"],
            description="How to read slashed dates such as 03/04/2024.",
        ),
    },
    "required": ["file"],
}


class PolicyController(Controller):
    """Policies staff acknowledge: versions, publishing, acknowledgements, coverage, review."""

    path = "/api/v1/policies"
    tags = ["policies"]

    @get("/", opt={"action": "policy.read"}, responses=problems())
    async def list_policies(self) -> list[PolicySummary]:
        """Every policy, with its current and draft version."""
        return msgspec.convert(await services.list_policies(), list[PolicySummary])

    @post("/", opt={"action": "policy.create"}, responses=problems(409))
    async def create_policy(self, data: JSONBody[PolicyCreate], actor: ActorDep) -> PolicyOut:
        """A new policy with its first draft (admins and HR)."""
        created = await services.create_policy(actor=actor, data=structs.asdict(data))
        return msgspec.convert(created, PolicyOut)

    @get("/mine", opt={"action": "policy.own"}, responses=problems())
    async def my_policies(self, actor: ActorDep) -> list[MyPolicy]:
        """The published policies that apply to you, and when you acknowledged each."""
        return msgspec.convert(await services.my_policies(actor=actor), list[MyPolicy])

    @get("/coverage", opt={"action": "policy.coverage"}, responses=problems())
    async def coverage(self) -> list[CoverageOut]:
        """Each published version: how many were asked, and how many acknowledged."""
        return msgspec.convert(await services.coverage(), list[CoverageOut])

    @get("/findings", opt={"action": "policy.read"}, responses=problems())
    async def findings(self) -> list[FindingOut]:
        """Policies whose review date has passed."""
        return msgspec.convert(await services.review_findings(), list[FindingOut])

    @get("/{policy_id:int}", opt={"action": "policy.read"}, responses=problems(404))
    async def get_policy(self, policy_id: Id) -> PolicyOut:
        """One policy with its versions."""
        return msgspec.convert(await services.get_policy(policy_id=policy_id), PolicyOut)

    @patch(
        "/{policy_id:int}",
        opt={"action": "policy.write"},
        guards=[object_guard(services.check_keeper)],
        responses=problems(404, 409),
    )
    async def update_policy(
        self, policy_id: Id, data: JSONBody[PolicyUpdate], actor: ActorDep
    ) -> PolicyOut:
        """Change a policy's title, kind, owner or department (admins, HR, its owner)."""
        changed = await services.update_policy(
            actor=actor, policy_id=policy_id, version=data.version, changes=changes_in(data)
        )
        return msgspec.convert(changed, PolicyOut)

    @post(
        "/{policy_id:int}/draft",
        opt={"action": "policy.write"},
        guards=[object_guard(services.check_keeper)],
        status_code=200,
        responses=problems(404, 409),
    )
    async def save_draft(
        self, policy_id: Id, data: JSONBody[DraftIn], actor: ActorDep
    ) -> VersionOut:
        """Write the next version's draft (a new one, or the open draft changed)."""
        values = {k: v for k, v in structs.asdict(data).items() if k != "version"}
        saved = await services.save_draft(
            actor=actor, policy_id=policy_id, data=values, version=data.version
        )
        return msgspec.convert(saved, VersionOut)

    @get("/versions/{version_id:int}", opt={"action": "policy.own"}, responses=problems(404))
    async def get_version(self, version_id: Id, actor: ActorDep) -> VersionOut:
        """One version (yours to read if it applies to you; any for those who read policies)."""
        return msgspec.convert(
            await services.check_reader(actor=actor, version_id=version_id), VersionOut
        )

    @post(
        "/versions/{version_id:int}/publish",
        opt={"action": "policy.write"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def publish(
        self, version_id: Id, data: JSONBody[PublishIn], actor: ActorDep
    ) -> PublishedOut:
        """Publish a draft: the staff it applies to are asked to acknowledge it."""
        published = await flows.publish_version(
            actor=actor, version_id=version_id, version=data.version
        )
        return msgspec.convert(published, PublishedOut)

    @post(
        "/versions/{version_id:int}/acknowledge",
        opt={"action": "policy.own"},
        status_code=200,
        responses=problems(404, 409),
    )
    async def acknowledge(self, version_id: Id, actor: ActorDep) -> AcknowledgementOut:
        """Acknowledge a version that applies to you; a second time returns the first's time."""
        done = await services.acknowledge(actor=actor, version_id=version_id)
        return msgspec.convert(done, AcknowledgementOut)

    @get(
        "/versions/{version_id:int}/acknowledgements",
        opt={"action": "policy.coverage"},
        responses=problems(404),
    )
    async def acknowledgements(self, version_id: Id) -> list[AskedOut]:
        """Who was asked to acknowledge a version, and when each did."""
        return msgspec.convert(
            await services.acknowledgements(version_id=version_id), list[AskedOut]
        )


class TrainingController(Controller):
    """Training: courses, completions, who is due or overdue."""

    path = "/api/v1/training"
    tags = ["training"]

    @get("/courses", opt={"action": "training.read"}, responses=problems())
    async def list_courses(self, include_retired: FromQuery[bool] = False) -> list[CourseOut]:
        """Courses by title."""
        return msgspec.convert(
            await services.list_courses(include_retired=include_retired), list[CourseOut]
        )

    @post("/courses", opt={"action": "training.write"}, responses=problems(409))
    async def create_course(self, data: JSONBody[CourseCreate], actor: ActorDep) -> CourseOut:
        """A new course."""
        values = structs.asdict(data)
        values["required_roles"] = [r.value for r in data.required_roles]
        return msgspec.convert(await services.create_course(actor=actor, data=values), CourseOut)

    @get("/courses/{course_id:int}", opt={"action": "training.read"}, responses=problems(404))
    async def get_course(self, course_id: Id) -> CourseOut:
        """One course."""
        return msgspec.convert(await services.get_course(course_id=course_id), CourseOut)

    @patch(
        "/courses/{course_id:int}", opt={"action": "training.write"}, responses=problems(404, 409)
    )
    async def update_course(
        self, course_id: Id, data: JSONBody[CourseUpdate], actor: ActorDep
    ) -> CourseOut:
        """Change a course; send the version you read."""
        changes = changes_in(data)
        if "required_roles" in changes:
            changes["required_roles"] = [str(r) for r in changes["required_roles"]]
        changed = await services.update_course(
            actor=actor, course_id=course_id, version=data.version, changes=changes
        )
        return msgspec.convert(changed, CourseOut)

    @get(
        "/courses/{course_id:int}/status",
        opt={"action": "training.read"},
        responses=problems(404),
    )
    async def course_status(self, course_id: Id) -> list[StandingOut]:
        """Everyone the course is required of, and whether they are current, due or overdue."""
        return msgspec.convert(await services.course_status(course_id=course_id), list[StandingOut])

    @get("/coverage", opt={"action": "training.read"}, responses=problems())
    async def coverage(self) -> list[TrainingCoverageOut]:
        """Each course: how many it is required of, and how they stand."""
        return msgspec.convert(await services.training_coverage(), list[TrainingCoverageOut])

    @get("/completions", opt={"action": "training.read"}, responses=problems())
    async def list_completions(
        self,
        limit: Limit = 50,
        offset: Offset = 0,
        course_id: QueryId = None,
        employee_id: QueryId = None,
    ) -> CompletionPage:
        """Completions, newest first, of a course, a person or everyone."""
        items, next_offset = await services.list_completions(
            course_id=course_id, employee_id=employee_id, limit=limit, offset=offset
        )
        return CompletionPage(
            items=msgspec.convert(items, list[CompletionOut]),
            limit=limit,
            offset=offset,
            next_offset=next_offset,
        )

    @post("/completions", opt={"action": "training.write"}, responses=problems(404, 409))
    async def record_completion(
        self, data: JSONBody[CompletionIn], actor: ActorDep
    ) -> CompletionOut:
        """Record that a person completed a course on a day (once per day)."""
        done = await services.record_completion(actor=actor, data=structs.asdict(data))
        return msgspec.convert(done, CompletionOut)

    @post(
        "/completions/imports",
        opt={"action": "training.write"},
        status_code=200,
        responses=problems(413),
    )
    async def import_file(
        self,
        data: Annotated[
            dict[str, Any],
            Body(
                media_type=RequestEncodingType.MULTI_PART,
                description="Fields: file (CSV: email, course, completed_on, evidence), optional date_order.",
                schema_extra=COMPLETIONS_FORM,
            ),
        ],
        actor: ActorDep,
    ) -> ImportResult:
        """Import completions from a CSV, all or nothing; problems carry line numbers."""
        upload = data.get("file")
        content = await upload.read() if isinstance(upload, UploadFile) else upload
        if isinstance(content, str):
            content = content.encode()
        summary = await import_completions(
            actor=actor, content=content or b"", date_order=data.get("date_order")
        )
        return ImportResult(**summary)

    @get("/mine", opt={"action": "training.own"}, responses=problems())
    async def my_training(self, actor: ActorDep) -> list[MyTraining]:
        """Your courses: required of you or completed, and where you stand."""
        return msgspec.convert(await services.my_training(actor=actor), list[MyTraining])
