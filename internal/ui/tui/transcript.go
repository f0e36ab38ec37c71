package tui

import (
	"fmt"
	"net/netip"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/command"
)

const (
	// maxEntries bounds the transcript: older entries scroll away for good
	// (history, not the screen, is where old messages live).
	maxEntries = 2000
	// maxOrphans bounds the delivery news kept for messages whose Send has
	// not returned yet (see transcript.track); past it the oldest news is
	// lost, which costs a glyph, never a message.
	maxOrphans = 1024
)

// transcript is the messages pane: what was said and shown, in order, and
// the viewport that scrolls it. It owns the entries and the glyphs of our
// own (news of their delivery comes from the node in any order, so finding
// the entry it is about is this type's job), the history shown at start
// (history.go), and where the user has scrolled to. It knows neither the
// node nor the rest of the screen: the model hands it events and Send
// results, and gives it its size and the welcome to show.
type transcript struct {
	keys keyMap

	// Own messages are found by ID (byID) once their Send has returned or
	// their first Sent event came, and by the seq of their Send before
	// (inFlight). Sent and Delivered events may overtake the Send's
	// return; orphans keeps them until then.
	entries  []*entry
	byID     map[chat.MessageID]*entry
	inFlight map[uint64]*entry
	orphans  map[chat.MessageID]map[netip.AddrPort]delivery
	seq      uint64
	chatted  bool // a message went either way: the welcome is over

	vp     viewport.Model
	follow bool   // the view stays at the newest messages (not scrolled up)
	reveal *entry // a block to show from its top, once laid out
	unseen int    // messages that arrived while scrolled up
	dirty  bool   // the viewport's lines must be built again

	// The history shown at start (history.go): liveIn notes peers'
	// messages shown live until it is read (then nil), pastIn those it
	// showed, and started is when the model began: what was stored since
	// is this run's, and shown live.
	liveIn  map[msgKey]bool
	pastIn  map[msgKey]bool
	started time.Time
	// replayed are messages of earlier runs that no UI showed, which the
	// node hands over again at start: they belong to the history, and wait
	// for it here if they come before it is read.
	replayed []chat.Message
}

func newTranscript(keys keyMap) transcript {
	t := transcript{
		keys:     keys,
		byID:     make(map[chat.MessageID]*entry),
		inFlight: make(map[uint64]*entry),
		orphans:  make(map[chat.MessageID]map[netip.AddrPort]delivery),
		liveIn:   make(map[msgKey]bool),
		pastIn:   make(map[msgKey]bool),
		started:  time.Now(),
		vp:       viewport.New(),
		follow:   true,
		dirty:    true,
	}
	t.vp.KeyMap = viewport.KeyMap{} // keys go to the input; see Update
	t.vp.MouseWheelEnabled = true
	t.vp.MouseWheelDelta = 3
	return t
}

// Update scrolls: by the mouse wheel, or by PgUp, PgDn and Esc, which the
// model hands here rather than to the input. Scrolling needs no Cmd.
func (t *transcript) Update(msg tea.Msg) {
	switch msg := msg.(type) {
	case tea.MouseWheelMsg:
		t.vp, _ = t.vp.Update(msg)
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, t.keys.PageUp):
			t.vp.PageUp()
		case key.Matches(msg, t.keys.PageDown):
			t.vp.PageDown()
		case key.Matches(msg, t.keys.Bottom):
			t.vp.GotoBottom()
		default:
			return
		}
	default:
		return
	}
	t.scrolled()
}

// View is the visible part of the transcript.
func (t *transcript) View() string { return t.vp.View() }

// setSize gives the transcript w columns and h lines.
func (t *transcript) setSize(w, h int) {
	t.vp.SetWidth(w)
	t.vp.SetHeight(h)
}

// restyle forgets every entry's layout: the width or the styles changed.
func (t *transcript) restyle() {
	for _, e := range t.entries {
		e.rendered = nil
	}
	t.dirty = true
}

// add appends e to the transcript.
func (t *transcript) add(e *entry) {
	if !t.follow && e.kind != entryBlock {
		t.unseen++
	}
	t.entries = append(t.entries, e)
	t.trim()
	t.dirty = true
}

// trim drops the oldest entries past maxEntries, and the "— earlier —"
// line once nothing is above it.
func (t *transcript) trim() {
	over := len(t.entries) - maxEntries
	if over > 0 && t.entries[over].kind == entryEarlier {
		over++
	}
	if over > 0 {
		clear(t.entries[:over])
		t.entries = t.entries[over:]
	}
}

func (t *transcript) notice(format string, args ...any) {
	t.add(&entry{kind: entryNotice, at: time.Now(), text: fmt.Sprintf(format, args...)})
}

func (t *transcript) addError(text string) {
	t.add(&entry{kind: entryError, at: time.Now(), text: text})
}

// block adds preformatted lines the user asked for (/help, /peers, /stats),
// and brings them into view.
func (t *transcript) block(text string) {
	e := &entry{kind: entryBlock, at: time.Now(), text: text}
	t.add(e)
	t.follow, t.reveal = true, e
}

// addOwn adds a message of ours, pending, to someone if to is not "", and
// returns the seq that names its Send (see sendDone).
func (t *transcript) addOwn(name, text string, action bool, to string) uint64 {
	t.seq++
	e := &entry{kind: entryOwn, at: time.Now(), name: name, text: text, action: action, seq: t.seq, to: to}
	t.inFlight[t.seq] = e
	t.add(e)
	return t.seq
}

// clear is /clear: everything on screen goes, and the welcome stays away.
func (t *transcript) clear() {
	clear(t.entries)
	t.entries = t.entries[:0]
	clear(t.byID)
	t.unseen = 0
	t.chatted = true
}

// event shows one node event, and says whether the peers changed (for the
// model to look at them again).
func (t *transcript) event(ev chat.Event) (peersChanged bool) {
	switch ev := ev.(type) {
	case chat.Message:
		if ev.At.Before(t.started) {
			t.showReplayed(ev)
			break
		}
		t.chatted = true
		if !t.noteLive(ev) {
			break
		}
		t.add(messageEntry(ev))
	case chat.Sent:
		t.track(ev.ID, ev.To, sent)
	case chat.Held:
		t.track(ev.ID, ev.To, held)
	case chat.Delivered:
		t.track(ev.ID, ev.To, delivered)
	case chat.Cancelled:
		t.track(ev.ID, ev.To, cancelled)
	case chat.Joined:
		if ev.Fingerprint != "" {
			// Short, as in the panel: /peers has it whole.
			t.notice("%s joined (%s, key %s)", ev.Name, ev.Peer, shortFingerprint(ev.Fingerprint))
		} else {
			t.notice("%s joined (%s)", ev.Name, ev.Peer)
		}
		return true
	case chat.Left:
		t.notice("%s left", ev.Name)
		return true
	case chat.Unreachable:
		t.notice("%s is unreachable; messages to %[1]s will wait", ev.Name)
		return true
	case chat.Reachable:
		t.notice("%s is back", ev.Name)
		return true
	case chat.Renamed:
		t.notice("%s is now known as %s", ev.OldName, ev.Name)
		return true
	case chat.Moved:
		t.notice("%s moved to %s", ev.Name, ev.To)
		return true
	case chat.Nearby, chat.Gone:
		return true // the panel and /peers show who is nearby
	case chat.Error:
		t.addError(ev.Err.Error())
	case chat.StoreRecovered:
		t.notice("%s", command.StoreRecovered)
	case chat.HistoryByAddress:
		t.notice("%s", ev)
	}
	return false
}

// track records what peer has of our message id.
func (t *transcript) track(id chat.MessageID, peer netip.AddrPort, d delivery) {
	if e := t.byID[id]; e != nil {
		e.update(peer, d)
		t.dirty = true
		return
	}
	o := t.orphans[id]
	if o == nil {
		if len(t.orphans) >= maxOrphans {
			clear(t.orphans)
		}
		o = make(map[netip.AddrPort]delivery)
		t.orphans[id] = o
	}
	if cur, ok := o[peer]; !ok || d > cur {
		o[peer] = d
	}
}

// trackCancelled records what /cancel or /forget gave up on.
func (t *transcript) trackCancelled(cs []chat.Cancelled) {
	for _, c := range cs {
		t.track(c.ID, c.To, cancelled)
	}
}

// sendDone binds a returned Send to its entry, and returns the Send's
// error for the model to show.
func (t *transcript) sendDone(msg sendDoneMsg) error {
	e := t.inFlight[msg.seq]
	delete(t.inFlight, msg.seq)
	if e == nil {
		return nil
	}
	for _, s := range msg.sent {
		e.id = s.ID
		t.byID[s.ID] = e
		e.update(s.To, sent)
		for peer, d := range t.orphans[s.ID] {
			e.update(peer, d)
		}
		delete(t.orphans, s.ID)
	}
	if msg.err != nil && len(msg.sent) == 0 {
		e.failed = true
		e.rendered = nil
	}
	t.dirty = true
	return msg.err
}

// waiting are our messages on screen that some peer still waits for,
// newest first.
func (t *transcript) waiting() []command.Pending {
	var out []command.Pending
	for i := len(t.entries) - 1; i >= 0; i-- {
		if e := t.entries[i]; e.waiting() {
			out = append(out, command.Pending{ID: e.id, Text: e.text, Action: e.action})
		}
	}
	return out
}

// scrolled notes a scroll by the user: at the bottom, the view follows new
// messages again and none are unseen; above it, it stays put.
func (t *transcript) scrolled() {
	t.follow = t.vp.AtBottom()
	if t.follow {
		t.unseen = 0
	}
}

// rebuild lays the transcript out again for the viewport, w columns wide
// and h lines high, keeping the view at the bottom if it follows (new
// messages scroll in) and where it was if the user had scrolled up to
// read. welcome, if not nil, gives the welcome's lines for a width and a
// height; it goes under the history, if any, and then keeps to a few
// lines, so that the history stays in view.
func (t *transcript) rebuild(st styles, w, h int, welcome func(w, h int) []string) {
	t.dirty = false
	var lines []string
	welcomeH := h
	if t.hasPast() {
		welcomeH = 0
	}
	revealAt, revealLen := -1, 0
	for _, e := range t.entries {
		if welcome != nil && !e.past {
			lines = append(lines, welcome(w, welcomeH)...)
			welcome = nil
		}
		r := e.render(st, w)
		if e == t.reveal {
			revealAt, revealLen = len(lines), len(r)
		}
		lines = append(lines, r...)
	}
	if welcome != nil {
		lines = append(lines, welcome(w, welcomeH)...)
	}
	t.vp.SetContentLines(lines)
	if t.follow {
		t.vp.GotoBottom()
		t.unseen = 0
	}
	if revealAt >= 0 && revealLen > t.vp.Height() {
		// Too tall to see whole: show its beginning.
		t.vp.SetYOffset(revealAt)
		t.follow = t.vp.AtBottom()
	}
	t.reveal = nil
}
