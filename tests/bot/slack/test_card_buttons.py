"""The candidate card's buttons through real HTTP: signed block_actions payloads in, the
same desk commands as the caret lines out (the card updated in place with chat.update,
the thread's note), refusals to the clicker alone through the response_url, nothing done
twice for a payload delivered twice or a double click; the Add to list modal's
view_submission and view_closed."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from bot.sandbox import slack_payloads as payloads
from bot.slack import cards
from storage import lists
from storage.models import Candidate, Conversation
from tests.bot.conftest import TEAMMATE
from tests.bot.slack.conftest import BOSS, LEAD, LEE, SAM, Surface, view_json


def conversation(surface: Surface) -> Conversation:
    with surface.caretbot.db.read() as session:
        return session.execute(sa.select(Conversation)).scalars().one()


def labels(surface: Surface, thread: str) -> list[str]:
    """The card's buttons and select as a person sees them."""
    shown = []
    for element in surface.card_elements(thread).values():
        if element["type"] == "button":
            shown.append(element["text"]["text"])
        elif element["type"] == "overflow":
            shown += [option["text"]["text"] for option in element["options"]]
        else:
            shown.append(element["placeholder"]["text"])
    return shown


def wait_labels(surface: Surface, thread: str, *wanted: str) -> list[str]:
    def ready() -> list[str] | None:
        shown = labels(surface, thread)
        return shown if all(w in shown for w in wanted) else None

    return surface.slack.wait_for(ready)


def more(value: str, conversation_id: int) -> dict[str, Any]:
    return {
        "selected_option": {
            "text": {"type": "plain_text", "text": value},
            "value": f"{value}:{conversation_id}",
        }
    }


def test_the_card_carries_the_buttons(surface: Surface) -> None:
    thread = surface.bridge.open_thread("Bonjour, c’est pour le poste d’infirmière 👩‍⚕️")
    assert labels(surface, thread) == ["Claim", "Assign…", "Close", "Opt out", "Add to list…"]


def test_claim_updates_the_card_in_place_and_says_so_in_the_thread(surface: Surface) -> None:
    thread = surface.bridge.open_thread()
    started = time.monotonic()
    response, _ = surface.click(thread, cards.ACTION_CLAIM)
    assert response.status_code == 200 and time.monotonic() - started < 3
    assert surface.bridge.wait_for_note(thread, f"Claimed by <@{TEAMMATE}>.")
    assert wait_labels(surface, thread, "Unclaim")[0] == "Unclaim"
    assert any(c.params["ts"] == thread for c in surface.slack.calls("chat.update"))
    assert conversation(surface).claimed_by == TEAMMATE


def test_a_payload_delivered_twice_claims_once(surface: Surface) -> None:
    thread = surface.bridge.open_thread()
    element = surface.card_elements(thread)[cards.ACTION_CLAIM]
    payload = payloads.block_actions_on_message(
        {
            "action_id": cards.ACTION_CLAIM,
            "block_id": "desk",
            "type": "button",
            "value": element["value"],
        },
        user=TEAMMATE,
        channel="C0CARETBOT",
        message=surface.card(thread),
        response_url=surface.slack.response_url(),
    )
    assert surface.post_payload(payload).status_code == 200
    assert surface.post_payload(payload).status_code == 200
    surface.bridge.wait_for_note(thread, "Claimed by")
    surface.bridge.wait_outbox_settled()
    assert [n for n in surface.bridge.notes(thread) if "Claimed by" in n] == [
        f"Claimed by <@{TEAMMATE}>."
    ]
    assert surface.slack.responses() == []  # the second delivery was not even answered


def test_a_double_click_on_claim_does_nothing_twice(surface: Surface) -> None:
    thread = surface.bridge.open_thread()
    card = surface.card(thread)
    urls = []
    for _ in range(2):  # two clicks on the same card, before it changes
        url = surface.slack.response_url()
        urls.append(url)
        surface.post_payload(
            payloads.block_actions_on_message(
                {
                    "action_id": cards.ACTION_CLAIM,
                    "block_id": "desk",
                    "type": "button",
                    "value": "1",
                },
                user=TEAMMATE,
                channel="C0CARETBOT",
                message=card,
                response_url=url,
            )
        )
    told = surface.slack.wait_for(lambda: surface.said_to(urls[1]) or surface.said_to(urls[0]))
    assert told == ["You hold this conversation already."]
    surface.bridge.wait_outbox_settled()
    assert [n for n in surface.bridge.notes(thread) if "Claimed by" in n] == [
        f"Claimed by <@{TEAMMATE}>."
    ]


def test_unclaim_by_someone_else_is_refused_to_them_alone_and_a_manager_may(
    surface: Surface,
) -> None:
    thread = surface.bridge.open_thread()
    surface.click(thread, cards.ACTION_CLAIM)
    wait_labels(surface, thread, "Unclaim")
    _, url = surface.click(thread, cards.ACTION_UNCLAIM, user=LEE)
    told = surface.slack.wait_for(lambda: surface.said_to(url))
    assert told == [
        f"<@{TEAMMATE}> holds this conversation: only they or a manager can `^unclaim` it."
    ]
    assert not [
        c for c in surface.slack.calls("chat.postEphemeral")
    ]  # through the response_url only
    assert conversation(surface).claimed_by == TEAMMATE
    surface.click(thread, cards.ACTION_UNCLAIM, user=LEAD)  # a manager through MANAGER_GROUP
    assert surface.bridge.wait_for_note(thread, f"<@{LEAD}> released <@{TEAMMATE}>'s claim.")
    wait_labels(surface, thread, "Claim")


def test_assign_with_the_users_select_and_an_outsider_refused(surface: Surface) -> None:
    thread = surface.bridge.open_thread()
    surface.click(thread, cards.ACTION_ASSIGN, selected_user=LEE)
    assert surface.bridge.wait_for_note(thread, f"Assigned to <@{LEE}> by <@{TEAMMATE}>.")
    _, url = surface.click(thread, cards.ACTION_ASSIGN, selected_user=SAM)
    (told,) = surface.slack.wait_for(lambda: surface.said_to(url))
    assert told.startswith(f"Not assigned: <@{SAM}> is not on the team")
    assert conversation(surface).assignees == [LEE]


def test_close_and_reopen(surface: Surface) -> None:
    thread = surface.bridge.open_thread()
    surface.click(thread, cards.ACTION_CLOSE)
    assert surface.bridge.wait_for_note(thread, f"Closed by <@{TEAMMATE}>.")
    wait_labels(surface, thread, "Reopen")
    surface.click(thread, cards.ACTION_REOPEN, user=BOSS)
    assert surface.bridge.wait_for_note(thread, f"Reopened by <@{BOSS}>.")
    wait_labels(surface, thread, "Close")
    assert conversation(surface).status == "open"


def test_opt_out_from_the_overflow_and_opt_in_refused_after_stop(surface: Surface) -> None:
    thread = surface.bridge.open_thread()
    cid = conversation(surface).id
    assert cid is not None
    surface.click(thread, cards.ACTION_MORE, **more("opt_out", cid))
    assert surface.bridge.wait_for_note(
        thread, f"<@{TEAMMATE}> opted the candidate out: from the candidate card"
    )
    assert wait_labels(surface, thread, "Opt in")
    surface.click(thread, cards.ACTION_MORE, **more("opt_in", cid))
    assert surface.bridge.wait_for_note(thread, "opted the candidate back in")

    surface.bridge.text_in("STOP")
    surface.slack.wait_for(lambda: (c := candidate(surface)) is not None and c.opted_out)
    _, url = surface.click(thread, cards.ACTION_MORE, **more("opt_in", cid))
    (told,) = surface.slack.wait_for(lambda: surface.said_to(url))
    assert told.startswith("Not opted in: the candidate texted STOP. They must text START")
    assert candidate(surface).opted_out  # type: ignore[union-attr]


def candidate(surface: Surface) -> Candidate | None:
    return surface.bridge.candidate()


def test_add_to_list_opens_a_modal_and_its_submission_adds(surface: Surface) -> None:
    with surface.caretbot.db.write() as session:
        lists.create_list(session=session, name="Enfermeras de noche", filter_text="city:Nowhere")
        lists.create_list(session=session, name="Austin", filter_text="city:Austin", dynamic=True)
    thread = surface.bridge.open_thread()
    cid = conversation(surface).id
    assert cid is not None
    surface.click(thread, cards.ACTION_MORE, **more("list_add", cid))
    (opened,) = surface.slack.wait_for(
        lambda: [c for c in surface.slack.calls("views.open") if c.ok]
    )
    view = {**view_json(opened.params), **opened.response["view"]}
    (select,) = [b["element"] for b in view["blocks"] if b["type"] == "input"]
    assert [o["value"] for o in select["options"]] == ["Enfermeras de noche"]  # static lists only
    chosen = {"list": {"list": {"type": "static_select", "selected_option": select["options"][0]}}}
    answer = surface.post_payload(payloads.view_submission(view, user=TEAMMATE, values=chosen))
    assert answer.status_code == 200 and answer.text == ""
    assert surface.bridge.wait_for_note(
        thread, 'Added to the list "Enfermeras de noche" by <@U0DANA>.'
    )

    again = dict(view, id="V0SECOND")
    answer = surface.post_payload(payloads.view_submission(again, user=TEAMMATE, values=chosen))
    assert answer.json() == {
        "response_action": "errors",
        "errors": {"list": 'The candidate is on "Enfermeras de noche" already.'},
    }
    closed = surface.post_payload(payloads.view_closed(view, user=TEAMMATE))
    assert closed.status_code == 200


def test_a_guest_and_a_forged_payload_change_nothing(surface: Surface) -> None:
    thread = surface.bridge.open_thread()
    _, url = surface.click(thread, cards.ACTION_CLAIM, user=SAM)
    (told,) = surface.slack.wait_for(lambda: surface.said_to(url))
    assert told.startswith(
        "Only members of the team (the people in <#C0CARETBOT>) may use the buttons"
    )
    payload = payloads.block_actions_on_message(
        {"action_id": cards.ACTION_CLOSE, "block_id": "desk", "type": "button", "value": "1"},
        user=TEAMMATE,
        channel="C0CARETBOT",
        message=surface.card(thread),
        response_url=surface.slack.response_url(),
    )
    forged = surface.caretbot.slack_post(
        payloads.payload_form(payload), content_type=payloads.FORM, secret="nope"
    )
    assert forged.status_code == 401
    surface.bridge.wait_outbox_settled()
    assert conversation(surface).claimed_by is None and conversation(surface).status == "open"


def test_a_forged_view_submission_adds_nothing(surface: Surface) -> None:
    with surface.caretbot.db.write() as session:
        lists.create_list(session=session, name="Night nurses", filter_text="city:Nowhere")
    thread = surface.bridge.open_thread()
    view = {
        "id": "V0FORGED",
        "type": "modal",
        "callback_id": "desk.list_add",
        "private_metadata": f'{{"channel": "C0CARETBOT", "thread_ts": "{thread}"}}',
    }
    chosen = {
        "list": {"list": {"type": "static_select", "selected_option": {"value": "Night nurses"}}}
    }
    body = payloads.payload_form(payloads.view_submission(view, user=TEAMMATE, values=chosen))
    forged = surface.caretbot.slack_post(body, content_type=payloads.FORM, secret="nope")
    assert forged.status_code == 401
    surface.bridge.wait_outbox_settled()
    assert not [n for n in surface.bridge.notes(thread) if "Added to the list" in n]
    with surface.caretbot.db.read() as session:
        assert (
            lists.list_count(
                session=session, info=lists.find_list(session=session, name="Night nurses")
            )
            == 0
        )  # type: ignore[arg-type]
