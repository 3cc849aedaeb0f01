"""The desk's editor and preview: a poll's title, texts and tree changed in a form, checked by
the definition's own rules with each problem shown at its field; and the poll walked as a
reader would, without anything being stored.

The form carries the tree it was drawn from (ids and kinds of nodes), so what the editor saw is
what is saved, and a form that fails its checks comes back with everything typed still in it.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from pollserver import auth
from pollserver.core.definition import (
    NODE_ID_PATTERN,
    DefinitionError,
    NodeType,
    validate_definition,
    warnings_by_node,
)
from pollserver.core.lifecycle import PollStatus
from pollserver.core.poll_settings import settings_of
from pollserver.core.refusals import Refused
from pollserver.core.roles import Permission
from pollserver.core.tree import NO, YES, PollTree
from pollserver.core.tree_edits import (
    BRANCHES,
    TreeEditError,
    add_node,
    ending_branches,
    remove_nodes,
)
from pollserver.database import begin_write_transaction
from pollserver.extensions import db
from pollserver.loaders import load_article, load_poll
from pollserver.pages.moderation.blueprint import back_to_poll, bp
from pollserver.pages.moderation.polls import version_arg
from pollserver.services.articles import attach_definition
from pollserver.services.moderation.edits import EditKind, create_new_version, edit_definition
from pollserver.services.polls import definition_of, poll_has_answers, reader_document

NODE_SPEC = re.compile(rf"^({NODE_ID_PATTERN.strip('^$')}):(question|outcome)$")
Problems = dict[str, Any]


def form_definition(form: MultiDict) -> tuple[dict[str, Any], Problems]:
    """The definition the form describes, with the edits it asks for made, and its problems:
    ``{"title": [...], "root": [...], "nodes": {id: [...]}, "add": [...]}``."""
    problems: Problems = {}
    nodes = []
    for spec in form.get("nodes", "").split(","):
        match = NODE_SPEC.match(spec.strip())
        if not match:
            continue
        key, kind = match.groups()
        node: dict[str, Any] = {"id": key, "type": kind, "text": form.get(f"text-{key}", "")}
        for branch in BRANCHES[NodeType(kind)]:
            node[branch] = form.get(f"{branch}-{key}") or None
        nodes.append(node)
    definition = {"title": form.get("title", ""), "root": form.get("root", ""), "nodes": nodes}
    removed = [key for key in form.getlist("remove") if key in {n["id"] for n in nodes}]
    if removed:
        try:
            definition = remove_nodes(definition, removed)
        except TreeEditError as error:
            problems.setdefault("nodes", {}).setdefault(definition["root"], []).append(str(error))
    add_text, add_at = form.get("add-text", "").strip(), form.get("add-at", "")
    if add_text or add_at:
        try:
            kind = NodeType(form.get("add-type", "outcome"))
            node_id, _, branch = add_at.partition(".")
            if not add_text:
                raise TreeEditError("write the new node's text")
            definition, _ = add_node(definition, (node_id, branch), kind, add_text)
        except (TreeEditError, ValueError, StopIteration) as error:
            message = str(error) if isinstance(error, TreeEditError) else "choose where it goes"
            problems["add"] = [message]
    return definition, problems


def checked(definition: dict[str, Any], problems: Problems) -> tuple[dict[str, Any], Problems]:
    """The definition as the rules load it, or the rules' problems added to ``problems``."""
    if problems:
        return definition, problems
    try:
        return validate_definition(definition), problems
    except DefinitionError as error:
        for field, messages in error.messages.items():
            if field == "nodes" and isinstance(messages, dict):
                for node_id, texts in messages.items():
                    problems.setdefault("nodes", {}).setdefault(node_id, []).extend(texts)
            else:
                problems.setdefault(field, []).extend(
                    messages if isinstance(messages, list) else [str(messages)]
                )
        return definition, problems


def problem_count(problems: Problems) -> int:
    nodes = problems.get("nodes", {})
    others = sum(len(texts) for field, texts in problems.items() if field != "nodes")
    return others + sum(len(texts) for texts in nodes.values())


def editor_page(
    definition: dict[str, Any],
    *,
    problems: Problems | None = None,
    status: int = 200,
    **context: Any,
) -> tuple[str, int]:
    warnings = warnings_by_node(definition)
    page = render_template(
        "admin/edit.html",
        definition=definition,
        problems=problems or {},
        problem_count=problem_count(problems or {}),
        warnings=warnings,
        ending=ending_branches(definition),
        texts={node["id"]: node["text"] for node in definition["nodes"]},
        kinds={node["id"]: node["type"] for node in definition["nodes"]},
        **context,
    )
    return page, status


@bp.route("/polls/<poll_id>/edit", methods=["GET", "POST"])
@auth.requires(Permission.MODERATE)
def edit_poll(poll_id: str):
    version = version_arg()
    if request.method == "GET":
        poll = load_poll(poll_id, version)
        return editor_page(
            definition_of(poll),
            poll=poll,
            frozen=poll_has_answers(db.session, poll),
            based_on=poll.updated_at.isoformat(),
        )
    definition, problems = checked(*form_definition(request.form))
    begin_write_transaction()
    poll = load_poll(poll_id, version)
    frozen = poll_has_answers(db.session, poll)
    # The form carries the state of the poll it was drawn from: a change made meanwhile (an
    # article's import, another editor) is never overwritten unseen.
    based_on = poll.updated_at.isoformat()
    status = 422
    if request.form.get("based_on") != based_on:
        problems.setdefault("_form", []).insert(
            0,
            "This poll changed while you were editing it (an import, another editor or a status "
            "change), so nothing was saved. Your version is below: reload the page to see the "
            "poll as it is now, or save again to put yours in its place.",
        )
        status = 409
    if problems:
        db.session.rollback()
        return editor_page(
            definition,
            poll=poll,
            frozen=frozen,
            problems=problems,
            status=status,
            based_on=based_on,
        )
    actor = auth.current_actor().name
    try:
        if request.form.get("action") == "new_version":
            new_poll = create_new_version(db.session, poll, definition, actor)
            db.session.commit()
            flash(f"Version {new_poll.version} is a draft: preview it, then open it.")
            return back_to_poll(new_poll.public_id, new_poll.version)
        change = edit_definition(db.session, poll, definition, actor)
    except Refused as refusal:
        db.session.rollback()
        problems = {"_form": [refusal.message]}
        return editor_page(
            definition,
            poll=poll,
            frozen=frozen,
            problems=problems,
            status=refusal.status,
            based_on=based_on,
        )
    db.session.commit()
    flash(
        {
            EditKind.NONE: "Nothing changed.",
            EditKind.TEXT: "The texts are saved; readers see them now."
            if poll.status != "draft"
            else "The texts are saved.",
            EditKind.STRUCTURE: "The tree is saved.",
        }[change]
    )
    return redirect(url_for("admin_pages.edit_poll", poll_id=poll_id, version=poll.version), 303)


@bp.route("/articles/<int:article_id>/polls/new", methods=["GET", "POST"])
@auth.requires(Permission.MODERATE)
def new_poll(article_id: int):
    """A hand-made poll for an article the builder found no flowchart in."""
    if request.method == "GET":
        article = load_article(article_id)
        starter = {
            "title": article.title or "",
            "root": "q1",
            "nodes": [{"id": "q1", "type": "question", "text": "", "yes": None, "no": None}],
        }
        return editor_page(starter, article=article, frozen=False)
    definition, problems = checked(*form_definition(request.form))
    begin_write_transaction()
    article = load_article(article_id)
    if problems:
        db.session.rollback()
        return editor_page(definition, article=article, frozen=False, problems=problems, status=422)
    poll = attach_definition(db.session, article, definition, auth.current_actor().name)
    db.session.commit()
    flash("The draft poll is made: preview it, then open it.")
    return back_to_poll(poll.public_id, poll.version)


# --- preview -----------------------------------------------------------------------------------


@bp.get("/polls/<poll_id>/preview.json")
@auth.requires(Permission.READ)
def preview_document(poll_id: str) -> Response:
    """The poll version as the widget reads it, drafts too: for the desk's preview only."""
    poll = load_poll(poll_id, version_arg())
    # Shown as open: the preview walks it as readers of the open poll would.
    response = jsonify(reader_document(poll, PollStatus.OPEN))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/polls/<poll_id>/preview")
@auth.requires(Permission.READ)
def preview_poll(poll_id: str):
    """The poll walked as a reader would, marked as a preview; nothing is sent or stored. With
    JavaScript the widget itself runs it; without, the walk is links (``?walk=yn…``)."""
    poll = load_poll(poll_id, version_arg())
    tree = PollTree.from_definition(definition_of(poll))
    code = re.sub(r"[^yn]", "", request.args.get("walk", ""))[:100]
    walk = tree.walk_answers([YES if letter == "y" else NO for letter in code])
    code = walk.path_code  # answers past the end of the path mean nothing
    return render_template(
        "admin/preview.html",
        poll=poll,
        tree=tree,
        walk=walk,
        code=code,
        language=settings_of(poll.settings).language,
    )
