package tui

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textarea"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/command"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

const (
	// historySize bounds what Up and Down bring back.
	historySize = 200
	// maxOrphans bounds the delivery news kept for messages whose Send has
	// not returned yet (see model.track); past it the oldest news is lost,
	// which costs a glyph, never a message.
	maxOrphans = 1024
	// narrowPanel is the narrowest terminal that gets the peers panel.
	narrowPanel = 72
)

// model is the whole UI state. Update changes it and never does I/O: what
// talks to the node runs in the Cmds of cmds.go and comes back as a Msg.
type model struct {
	node *chat.Node
	// ctx is Run's: the node calls Cmds make end with it.
	ctx          context.Context
	opts         Options
	keys         keyMap
	st           styles
	dark         bool
	noColor      bool
	refreshEvery time.Duration // how often the peers panel asks for RTTs; 0: never
	stop         chan struct{} // closed when the UI is over: ends waiting Cmds

	width, height int
	name          string         // ours, as last set
	local         netip.AddrPort // the socket's address
	reach         []string       // where peers can reach us (the welcome)

	// The transcript. Own messages are found by ID (byID) once their Send
	// has returned or their first Sent event came, and by the seq of their
	// Send before (inFlight). Sent and Delivered events may overtake the
	// Send's return; orphans keeps them until then.
	entries  []*entry
	byID     map[chat.MessageID]*entry
	inFlight map[uint64]*entry
	orphans  map[chat.MessageID]map[netip.AddrPort]delivery
	seq      uint64
	chatted  bool // a message went either way: the welcome is over
	vp       viewport.Model
	follow   bool   // the view stays at the newest messages (not scrolled up)
	reveal   *entry // a block to show from its top, once laid out
	unseen   int    // messages that arrived while scrolled up
	dirty    bool   // the viewport's lines must be built again

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

	peers        []chat.PeerInfo
	rtts         map[netip.AddrPort]time.Duration
	refreshing   bool // a refresh Cmd is out
	refreshAgain bool // and another is due when it is back

	input       textarea.Model
	inputHeight int // as last laid out
	history     []string
	histIdx     int    // == len(history) when not browsing it
	draft       string // what was typed before browsing the history
	status      string // a one-line note under the messages, until the next key
	statusErr   bool

	// Sends (and leaving, which must not overtake them) go to the node one
	// at a time, in the order typed: Bubble Tea runs Cmds concurrently, so
	// two sends in flight could reach the node, and the peer, swapped.
	queued []tea.Cmd
	busy   bool // a queued Cmd is running

	leaving     bool
	leaveWait   bool               // leaving waits for delivery
	leaveCancel context.CancelFunc // stops that wait
	result      leftMsg            // how leaving went, for Run

	// confirmForget is the peer a /forget asked about: the next line, if
	// it is /forget of the same peer, confirms it.
	confirmForget netip.AddrPort
}

func newModel(ctx context.Context, node *chat.Node, opts Options, noColor bool) *model {
	m := &model{
		node:         node,
		ctx:          ctx,
		opts:         opts,
		keys:         defaultKeys(),
		dark:         true, // until the terminal says otherwise
		noColor:      noColor,
		refreshEvery: opts.refreshEvery,
		stop:         make(chan struct{}),
		width:        80,
		height:       24,
		name:         node.Name(),
		local:        node.LocalAddr(),
		byID:         make(map[chat.MessageID]*entry),
		inFlight:     make(map[uint64]*entry),
		orphans:      make(map[chat.MessageID]map[netip.AddrPort]delivery),
		liveIn:       make(map[msgKey]bool),
		pastIn:       make(map[msgKey]bool),
		started:      time.Now(),
		rtts:         make(map[netip.AddrPort]time.Duration),
		vp:           viewport.New(),
		follow:       true,
		dirty:        true,
	}
	m.vp.KeyMap = viewport.KeyMap{} // keys go to the input; see handleKey
	m.vp.MouseWheelEnabled = true
	m.vp.MouseWheelDelta = 3
	m.input = newInput()
	m.setStyles()
	m.layout()
	return m
}

// newInput is the message editor: it grows to a few lines, Enter sends and
// Alt+Enter starts a new line.
func newInput() textarea.Model {
	ta := textarea.New()
	ta.ShowLineNumbers = false
	ta.SetPromptFunc(2, func(info textarea.PromptInfo) string {
		if info.LineNumber == 0 {
			return "> "
		}
		return "  "
	})
	ta.Placeholder = "Type a message, /help for commands"
	ta.CharLimit = 0
	ta.MaxWidth = 0
	ta.DynamicHeight = true
	ta.MinHeight = 1
	ta.MaxHeight = 5
	// A paste of many lines must not be cut short: the limit that counts is
	// the message's size, checked on paste (see paste).
	ta.MaxContentHeight = 1 << 30
	ta.KeyMap.InsertNewline = defaultKeys().Newline
	ta.KeyMap.PageUp, ta.KeyMap.PageDown = key.Binding{}, key.Binding{}
	ta.SetVirtualCursor(false) // the terminal's own cursor
	ta.Focus()
	return ta
}

func (m *model) setStyles() {
	m.st = newStyles(m.dark, m.noColor)
	s := textarea.DefaultStyles(m.dark)
	for _, st := range []*textarea.StyleState{&s.Focused, &s.Blurred} {
		st.CursorLine = lipgloss.NewStyle()
		st.Text = lipgloss.NewStyle()
		st.EndOfBuffer = lipgloss.NewStyle()
		st.Prompt = m.st.prompt
		st.Placeholder = m.st.placeholder
	}
	s.Cursor.Blink = false
	m.input.SetStyles(s)
	for _, e := range m.entries {
		e.rendered = nil
	}
	m.dirty = true
}

// Init asks for the terminal's background (to pick colours), our
// addresses (for the welcome), the recent history and the first events.
func (m *model) Init() tea.Cmd {
	return tea.Batch(
		tea.RequestBackgroundColor,
		m.reachCmd(),
		m.historyCmd(),
		m.eventsCmd(),
		m.refreshCmd(),
		m.tickCmd(),
	)
}

// Update handles one message. It changes the model and returns Cmds for
// anything that needs the node or the clock.
func (m *model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	if h := m.input.Height(); h != m.inputHeight {
		// The input grew or shrank: the messages get what is left.
		m.inputHeight = h
		m.layout()
		m.dirty = true
	}
	if m.dirty {
		m.rebuild()
	}
	return m, cmd
}

func (m *model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = max(msg.Width, 1), max(msg.Height, 1)
		m.layout()
		for _, e := range m.entries {
			e.rendered = nil
		}
		m.dirty = true
	case tea.BackgroundColorMsg:
		m.dark = msg.IsDark()
		m.setStyles()
	case tea.KeyPressMsg:
		return m.handleKey(msg)
	case tea.PasteMsg:
		return m.paste(msg)
	case tea.MouseWheelMsg:
		m.vp, _ = m.vp.Update(msg)
		m.scrolled()
	case eventsMsg:
		peersChanged := false
		for _, ev := range msg {
			peersChanged = m.applyEvent(ev) || peersChanged
		}
		cmds := []tea.Cmd{m.eventsCmd(), m.markShownCmd(msg)}
		if peersChanged {
			cmds = append(cmds, m.refreshCmd())
		}
		return tea.Batch(cmds...)
	case eventsClosedMsg:
		// The node is closed: by our leaving, or under us.
		if !m.leaving {
			m.leaving = true
			return m.inOrder(m.leaveCmd(false, ""))
		}
	case sendDoneMsg:
		m.sendDone(msg)
		m.busy = false
		return m.nextInOrder()
	case historyMsg:
		m.gotHistory(msg)
	case cancelMsg:
		m.gotCancel(msg)
	case forgetMsg:
		m.gotForget(msg)
		return m.refreshCmd()
	case peersMsg:
		return m.gotPeers(msg)
	case statsMsg:
		m.gotStats(msg)
	case nickMsg:
		if msg.name != "" {
			m.name = msg.name
			m.notice("you are now known as %s", msg.name)
		}
		if msg.err != nil {
			m.fail(msg.err)
		}
	case connectMsg:
		if msg.err != nil {
			m.fail(msg.err)
			break
		}
		m.notice("connecting to %s…", msg.peer)
		return m.refreshCmd()
	case reachMsg:
		m.reach = msg
		m.dirty = true
	case tickMsg:
		return tea.Batch(m.refreshCmd(), m.tickCmd())
	case interruptMsg:
		return m.interrupt()
	case leftMsg:
		if msg.send != nil {
			m.sendDone(*msg.send)
		}
		m.result = msg
		return tea.Quit
	}
	return nil
}

// layout sizes the parts to the terminal.
func (m *model) layout() {
	m.input.MaxHeight = max(1, min(6, (m.height-4)/3))
	m.input.SetWidth(m.width)
	m.input.SetHeight(m.input.Height()) // clamp to the new MaxHeight
	m.vp.SetWidth(m.transcriptWidth())
	m.vp.SetHeight(m.bodyHeight())
}

// bodyHeight is what the header, the status line and the input leave for
// the messages.
func (m *model) bodyHeight() int {
	return max(1, m.height-2-m.input.Height())
}

func (m *model) panelWidth() int {
	if m.width < narrowPanel || len(m.peers) == 0 {
		return 0
	}
	return min(max(m.width/4, 24), 32)
}

func (m *model) transcriptWidth() int { return max(1, m.width-m.panelWidth()) }

// add appends e to the transcript.
func (m *model) add(e *entry) {
	if !m.follow && e.kind != entryBlock {
		m.unseen++
	}
	m.entries = append(m.entries, e)
	m.trim()
	m.dirty = true
}

// trim drops the oldest entries past maxEntries, and the "— earlier —"
// line once nothing is above it.
func (m *model) trim() {
	over := len(m.entries) - maxEntries
	if over > 0 && m.entries[over].kind == entryEarlier {
		over++
	}
	if over > 0 {
		clear(m.entries[:over])
		m.entries = m.entries[over:]
	}
}

func (m *model) notice(format string, args ...any) {
	m.add(&entry{kind: entryNotice, at: time.Now(), text: fmt.Sprintf(format, args...)})
}

// fail shows err in the transcript and, until the next key, under it: an
// error is never a crash, and never goes unseen.
func (m *model) fail(err error) {
	m.add(&entry{kind: entryError, at: time.Now(), text: err.Error()})
	m.status, m.statusErr = termsafe.Line(err.Error()), true
}

func (m *model) block(text string) {
	e := &entry{kind: entryBlock, at: time.Now(), text: text}
	m.add(e)
	m.follow, m.reveal = true, e // the user asked for it: show it
}

// applyEvent shows one node event and says whether the peers changed.
func (m *model) applyEvent(ev chat.Event) (peersChanged bool) {
	switch ev := ev.(type) {
	case chat.Message:
		if ev.At.Before(m.started) {
			m.showReplayed(ev)
			break
		}
		m.chatted = true
		if !m.noteLive(ev) {
			break
		}
		m.add(messageEntry(ev))
	case chat.Sent:
		m.track(ev.ID, ev.To, sent)
	case chat.Delivered:
		m.track(ev.ID, ev.To, delivered)
	case chat.Cancelled:
		m.track(ev.ID, ev.To, cancelled)
	case chat.Joined:
		if ev.Fingerprint != "" {
			// Short, as in the panel: /peers has it whole.
			m.notice("%s joined (%s, key %s)", ev.Name, ev.Peer, shortFingerprint(ev.Fingerprint))
		} else {
			m.notice("%s joined (%s)", ev.Name, ev.Peer)
		}
		return true
	case chat.Left:
		m.notice("%s left", ev.Name)
		return true
	case chat.Unreachable:
		m.notice("%s is unreachable; messages to %[1]s will wait", ev.Name)
		return true
	case chat.Reachable:
		m.notice("%s is back", ev.Name)
		return true
	case chat.Renamed:
		m.notice("%s is now known as %s", ev.OldName, ev.Name)
		return true
	case chat.Error:
		m.add(&entry{kind: entryError, at: time.Now(), text: ev.Err.Error()})
	case chat.StoreRecovered:
		m.notice("%s", command.StoreRecovered)
	}
	return false
}

// track records what peer has of our message id.
func (m *model) track(id chat.MessageID, peer netip.AddrPort, d delivery) {
	if e := m.byID[id]; e != nil {
		e.update(peer, d)
		m.dirty = true
		return
	}
	o := m.orphans[id]
	if o == nil {
		if len(m.orphans) >= maxOrphans {
			clear(m.orphans)
		}
		o = make(map[netip.AddrPort]delivery)
		m.orphans[id] = o
	}
	if cur, ok := o[peer]; !ok || d > cur {
		o[peer] = d
	}
}

// inOrder runs cmd once every Cmd queued before it has returned.
func (m *model) inOrder(cmd tea.Cmd) tea.Cmd {
	m.queued = append(m.queued, cmd)
	return m.nextInOrder()
}

// nextInOrder starts the next queued Cmd, unless one is running.
func (m *model) nextInOrder() tea.Cmd {
	if m.busy || len(m.queued) == 0 {
		return nil
	}
	cmd := m.queued[0]
	m.queued = slices.Delete(m.queued, 0, 1)
	m.busy = true
	return cmd
}

// sendDone binds a returned Send to its entry.
func (m *model) sendDone(msg sendDoneMsg) {
	e := m.inFlight[msg.seq]
	delete(m.inFlight, msg.seq)
	if e == nil {
		return
	}
	for _, s := range msg.sent {
		e.id = s.ID
		m.byID[s.ID] = e
		e.update(s.To, sent)
		for peer, d := range m.orphans[s.ID] {
			e.update(peer, d)
		}
		delete(m.orphans, s.ID)
	}
	if msg.err != nil {
		if len(msg.sent) == 0 {
			e.failed = true
			e.rendered = nil
		}
		m.fail(msg.err)
	}
	m.dirty = true
}

// scrolled notes a scroll by the user: at the bottom, the view follows new
// messages again and none are unseen; above it, it stays put.
func (m *model) scrolled() {
	m.follow = m.vp.AtBottom()
	if m.follow {
		m.unseen = 0
	}
}

// rebuild lays the transcript out again for the viewport, keeping the view
// at the bottom if it follows (new messages scroll in) and where it was if
// the user had scrolled up to read.
func (m *model) rebuild() {
	m.dirty = false
	w := m.transcriptWidth()
	if m.panelWidth() > 0 {
		w-- // a column between the text and the panel's border
	}
	var lines []string
	// The welcome goes under the history, if any, and then keeps to a
	// few lines, so that the history stays in view.
	welcome, welcomeH := m.welcoming(), m.bodyHeight()
	if m.hasPast() {
		welcomeH = 0
	}
	revealAt, revealLen := -1, 0
	for _, e := range m.entries {
		if welcome && !e.past {
			lines = append(lines, m.welcomeLines(w, welcomeH)...)
			welcome = false
		}
		r := e.render(m.st, w)
		if e == m.reveal {
			revealAt, revealLen = len(lines), len(r)
		}
		lines = append(lines, r...)
	}
	if welcome {
		lines = append(lines, m.welcomeLines(w, welcomeH)...)
	}
	m.vp.SetContentLines(lines)
	if m.follow {
		m.vp.GotoBottom()
		m.unseen = 0
	}
	if revealAt >= 0 && revealLen > m.vp.Height() {
		// Too tall to see whole: show its beginning.
		m.vp.SetYOffset(revealAt)
		m.follow = m.vp.AtBottom()
	}
	m.reveal = nil
}

// welcoming says whether to show the welcome: until someone is online or a
// message has gone either way.
func (m *model) welcoming() bool {
	if m.chatted {
		return false
	}
	for _, p := range m.peers {
		if p.State == chat.PeerOnline {
			return false
		}
	}
	return true
}

// interrupt is Ctrl+C (or SIGTERM): the first leaves gracefully without
// waiting for delivery, or stops a wait already under way; a third gives up
// on the goodbye (Run still closes the node).
func (m *model) interrupt() tea.Cmd {
	switch {
	case !m.leaving:
		m.leaving = true
		return m.inOrder(m.leaveCmd(false, ""))
	case m.leaveWait && m.leaveCancel != nil:
		m.leaveCancel()
		m.leaveCancel = nil
		m.leaveWait = false
		m.dirty = true
		return nil
	}
	return tea.Quit
}

// View draws the screen: header, messages (and peers), status, input.
func (m *model) View() tea.View {
	var v tea.View
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion
	v.WindowTitle = "udpchat — " + termsafe.Line(m.name)
	body := m.vp.View()
	if pw := m.panelWidth(); pw > 0 {
		body = lipgloss.JoinHorizontal(lipgloss.Top, body, m.panelView(pw, m.bodyHeight()))
	}
	parts := []string{m.headerView(), body, m.statusView(), m.input.View()}
	v.SetContent(fit(strings.Join(parts, "\n"), m.width, m.height))
	if c := m.input.Cursor(); c != nil && !m.leaving {
		c.Y += m.height - m.input.Height()
		if c.Y >= 0 && c.Y < m.height && c.X < m.width {
			v.Cursor = c
		}
	}
	return v
}

// fit cuts s to w columns and h lines, and pads it to h lines, so that no
// line ever wraps on the terminal and garbles the screen.
func fit(s string, w, h int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	for i, l := range lines {
		lines[i] = truncate(l, w)
	}
	for len(lines) < h {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}
