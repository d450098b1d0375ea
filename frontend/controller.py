"""The input controller every front end shares: the mode, the keys' routes, punctuation, typing order.

One :class:`InputController` per input context holds the state a user toggles (Chinese/English,
full/half-width punctuation) and turns each :class:`~frontend.keytable.Key` into what it means
(:func:`~frontend.keytable.route_key`): an action for the engine session, punctuation, or a key the
application handles as usual. It talks to two small objects the front end gives it:

* a :class:`SessionPort`, where the actions go and which says whether the session composes: the
  session itself on this thread (:class:`~frontend.composer.Composer`: IBus), or a worker thread
  that owns it (the window);
* a :class:`KeyTarget`, the text field or application: it gets keys back, typed text and the modes.

A port whose session runs elsewhere may not know yet whether the input goes on after a pick, Space
or Backspace (``composing_state`` is None): keys whose meaning depends on it wait, in order, until
:meth:`InputController.replay` (the port's answer came); every other key goes at once. A port on
the same thread always knows, and nothing ever waits.
"""
from __future__ import annotations

from typing import Protocol

from engine.pinyin.shuangpin import FULL_PINYIN

from .actions import Action, CommitRaw, DismissPredictions, Toggle, TypeText
from .keytable import CTRL_TOGGLES, Key, Route, RouteKind, depends_on_composing, dismisses_predictions, layout_keys, \
    route_key
from .punctuation import Punctuator
from .session_runner import punctuation_action


class SessionPort(Protocol):
    """Where a controller's actions go; what it knows of the session's state."""

    @property
    def composing_state(self) -> bool | None:
        """Whether input is pending; None while an action in flight decides."""

    @property
    def predicting(self) -> bool:
        """Whether next-word predictions are shown."""

    @property
    def text_pending(self) -> bool:
        """Whether converted text is on its way to the text field (keys it handles wait for it)."""

    def send(self, action: Action) -> None:
        """Apply ``action`` to the session (now, or in order on the session's thread)."""


class KeyTarget(Protocol):
    """The text field (or application) a controller types into."""

    def pass_key(self, key: Key) -> None:
        """A key that waited turned out to be the field's: it handles it as without Shuru."""

    def type_text(self, text: str) -> None:
        """Insert ``text`` at the caret now (punctuation typed while idle)."""

    def text_before(self) -> str:
        """The character before the caret, "" if unknown (``3.14`` stays ASCII)."""

    def modes_changed(self, chinese: bool, fullwidth: bool) -> None:
        """The input mode or the punctuation width was set (the front end relabels its indicators)."""


class InputController:
    """Routes one input context's keys; see the module docstring."""

    def __init__(self, port: SessionPort, target: KeyTarget, *, chinese: bool, fullwidth: bool,
                 comma_period_paging: bool = False, layout: str = FULL_PINYIN):
        self.port, self.target = port, target
        self.chinese, self.fullwidth = chinese, fullwidth
        self.failed = False  # the engine could not load: English only
        self.comma_period_paging = comma_period_paging  # , and . turn pages while composing
        self.layout_keys = layout_keys(layout)  # shuangpin keys besides letters (; in Microsoft)
        self.punctuator = Punctuator()
        self.deferred: list[Key | Toggle] = []  # keys (and mode toggles) waiting for the port's answer

    @property
    def chinese_active(self) -> bool:
        return self.chinese and not self.failed

    @property
    def composing(self) -> bool:
        """Whether input is pending (or may be: an action in flight decides)."""
        return self.port.composing_state is not False

    # Keys --------------------------------------------------------------------------------

    def press(self, key: Key) -> bool:
        """One key press: whether it was taken (False: the field or application handles it now)."""
        if key.is_modifier:
            return False
        if key.ctrl_only and key.name in CTRL_TOGGLES:
            self.toggle(CTRL_TOGGLES[key.name])
            return True
        if self.deferred or self._must_wait(key):
            self.deferred.append(key)
            return True
        return self._dispatch(key)

    def replay(self) -> None:
        """The port answered: the keys that waited go on, in order, while their meaning is known."""
        while self.deferred:
            item = self.deferred[0]
            if isinstance(item, Key) and self._must_wait(item):
                break
            self.deferred.pop(0)
            if isinstance(item, Toggle):
                self.set_chinese(not self.chinese)
            elif not self._dispatch(item):
                self.target.pass_key(item)

    def route(self, key: Key) -> Route:
        """Where ``key`` goes now (:func:`~frontend.keytable.route_key` with this context's state)."""
        return route_key(key.name, key.text, ctrl_alt=key.ctrl_alt, chinese=self.chinese_active,
                         composing=self.composing, comma_period_paging=self.comma_period_paging,
                         layout_keys=self.layout_keys, predicting=self.port.predicting)

    def _must_wait(self, key: Key) -> bool:
        """Whether the key must wait for the port's answer to keep the text in typing order."""
        if self.port.composing_state is None and depends_on_composing(
                key.name, key.text, ctrl_alt=key.ctrl_alt, chinese=self.chinese_active,
                comma_period_paging=self.comma_period_paging, layout_keys=self.layout_keys,
                predicting=self.port.predicting):
            return True  # its meaning depends on the answer
        if self.port.text_pending:  # converted text is on its way to the field
            route = self.route(key)
            return route.kind is RouteKind.EDITOR or (route.kind is RouteKind.PUNCT and not self.composing)
        return False

    def _dispatch(self, key: Key) -> bool:
        """Do what ``key`` means now; False when it is the field's."""
        route = self.route(key)
        if self.port.predicting and dismisses_predictions(route):
            self.port.send(DismissPredictions())  # not a pick: the key does what it does idle
        if route.kind is RouteKind.SESSION:
            self.port.send(route.action)
        elif route.kind is RouteKind.PUNCT:
            self._punctuation(route.char)
        return route.kind is not RouteKind.EDITOR

    def _punctuation(self, char: str) -> None:
        composing = self.composing
        action = punctuation_action(self.punctuator, char, fullwidth=self.fullwidth, composing=composing,
                                    before="" if composing else self.target.text_before())
        if isinstance(action, TypeText):
            self.target.type_text(action.text)
        else:
            self.port.send(action)

    # Modes --------------------------------------------------------------------------------

    def toggle(self, what: Toggle) -> None:
        """Ctrl+Space, Ctrl+. or a front end's mode button."""
        if what is Toggle.MODE:
            self.toggle_mode()
        else:
            self.set_fullwidth(not self.fullwidth)

    def toggle_mode(self) -> None:
        """Chinese/English (a Shift tap, Ctrl+Space), in order with the keys typed before it."""
        if self.deferred:
            self.deferred.append(Toggle.MODE)
        else:
            self.set_chinese(not self.chinese)

    def set_chinese(self, chinese: bool) -> None:
        """Switch the input mode; leaving Chinese commits the input as typed and hides predictions.
        Never Chinese while the engine failed."""
        chinese = chinese and not self.failed
        if chinese != self.chinese:
            if not chinese:
                self._end_input()
            self.chinese = chinese
        self.target.modes_changed(self.chinese_active, self.fullwidth)

    def set_fullwidth(self, fullwidth: bool) -> None:
        self.fullwidth = fullwidth
        self.target.modes_changed(self.chinese_active, self.fullwidth)

    def set_typing(self, *, comma_period_paging: bool | None = None, layout: str | None = None) -> None:
        """The settings that change what keys mean (the comma/period paging, the shuangpin layout); None: as is."""
        if comma_period_paging is not None:
            self.comma_period_paging = comma_period_paging
        if layout is not None:
            self.layout_keys = layout_keys(layout)

    def commit_pending(self) -> None:
        """Commit whatever is being typed as raw letters (before a mode switch, settings, a reload)."""
        if self.composing:
            self.port.send(CommitRaw())

    def _end_input(self) -> None:
        if self.composing:
            self.port.send(CommitRaw())
        elif self.port.predicting:
            self.port.send(DismissPredictions())

    def engine_failed(self) -> None:
        """No engine: English for good; keys that waited go to the field. The port ended the input first."""
        self.failed = True
        pending, self.deferred = self.deferred, []
        self.set_chinese(False)
        for item in pending:
            if isinstance(item, Key):
                self.target.pass_key(item)


class ControlledFront:
    """What a front end shows of its :class:`InputController` (``self.controller``): its modes, and
    setting them. The window's input and the Composer (IBus, fcitx5) both expose these."""

    controller: InputController

    @property
    def chinese(self) -> bool:
        return self.controller.chinese

    @property
    def fullwidth(self) -> bool:
        return self.controller.fullwidth

    @property
    def chinese_active(self) -> bool:
        """Chinese mode with an engine that loaded (English typing otherwise)."""
        return self.controller.chinese_active

    def set_chinese(self, chinese: bool) -> None:
        self.controller.set_chinese(chinese)

    def set_fullwidth(self, fullwidth: bool) -> None:
        self.controller.set_fullwidth(fullwidth)
