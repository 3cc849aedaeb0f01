"""``/me``: the token making the request."""

from __future__ import annotations

from flask.views import MethodView

from pollserver import auth
from pollserver.api.admin.blueprint import blp, requires
from pollserver.api.admin.schemas import ActorSchema
from pollserver.core.roles import Permission


@blp.route("/me")
class CurrentToken(MethodView):
    @blp.doc(operationId="getCurrentToken")
    @requires(Permission.READ)
    @blp.response(200, ActorSchema)
    def get(self):
        """The token making this request: its name, role and permissions."""
        actor = auth.current_actor()
        permissions = sorted(str(p) for p in Permission if actor.can(p))
        return {"name": actor.name, "role": str(actor.role), "permissions": permissions}
