package tui

import (
	"context"
	"net/netip"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/ui/termsafe"
)

// model is the UI. It holds a sub-model for each part of the screen (the
// transcript, the peers panel, the input: each in its own file, with the
// state it shows) and wires them: Update routes each Msg and node event to
// the parts it is about, the lines typed are carried out in commands.go,
// and View composes the parts with the header and the status line. Update
// never does I/O: what talks to the node runs in the Cmds of cmds.go and
// comes back as a Msg.
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

	// The parts of the screen, each with the state it shows.
	transcript transcript
	panel      peersPanel
	input      input
	files      transfers // the file transfers under way (files.go)
	// asked is the question about a line that names a file (files.go),
	// until the next key answers it; notFile is a line the person said is
	// not one.
	asked   *pastedFile
	notFile string
	// convs are the conversations (rooms.go): the direct chat, whose
	// transcript is transcript, then the rooms; cur is the one shown.
	convs []*conversation
	cur   int

	leaving     bool
	leaveWait   bool               // leaving waits for delivery
	leaveCancel context.CancelFunc // stops that wait
	result      leftMsg            // how leaving went, for Run
}

func newModel(ctx context.Context, node *chat.Node, opts Options, noColor bool) *model {
	keys := defaultKeys()
	m := &model{
		node:         node,
		ctx:          ctx,
		opts:         opts,
		keys:         keys,
		dark:         true, // until the terminal says otherwise
		noColor:      noColor,
		refreshEvery: opts.refreshEvery,
		stop:         make(chan struct{}),
		width:        80,
		height:       24,
		name:         node.Name(),
		local:        node.LocalAddr(),
		transcript:   newTranscript(keys),
		panel:        newPeersPanel(node.Plain(), node.Security()),
		input:        newInput(keys),
	}
	m.convs = []*conversation{newConversation("", &m.transcript)}
	m.setStyles()
	m.layout()
	return m
}

func (m *model) setStyles() {
	m.st = newStyles(m.dark, m.noColor)
	m.input.setStyles(m.st, m.dark)
	m.restyle()
}

// restyle lays every conversation out again: the size or the styles changed.
func (m *model) restyle() {
	for _, c := range m.convs {
		c.tr.restyle()
	}
}

// Init asks for the terminal's background (to pick colours), our
// addresses (for the welcome), the recent history and the first events.
func (m *model) Init() tea.Cmd {
	var room tea.Cmd
	if m.opts.Room != "" {
		room = m.openRoomCmd(m.opts.Room)
	}
	return tea.Batch(
		room,
		m.listRoomsCmd(),
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
	m.syncPanel()
	if load := tea.Batch(m.loadRooms(), m.askMissing()); load != nil {
		cmd = tea.Batch(cmd, load)
	}
	if m.input.resized() {
		// The input grew or shrank: the messages get what is left.
		m.layout()
		m.shown().tr.dirty = true
	}
	if m.shown().tr.dirty {
		m.rebuild()
	}
	return m, cmd
}

func (m *model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = max(msg.Width, 1), max(msg.Height, 1)
		m.layout()
		m.restyle()
	case tea.BackgroundColorMsg:
		m.dark = msg.IsDark()
		m.setStyles()
	case tea.KeyPressMsg:
		return m.handleKey(msg)
	case tea.PasteMsg:
		return m.paste(msg)
	case tea.MouseWheelMsg:
		m.shown().tr.Update(msg)
	case eventsMsg:
		peersChanged, bell := false, ""
		for _, ev := range msg {
			if m.fileEvent(ev) {
				continue
			}
			switch ev := ev.(type) {
			case chat.RoomMessage, chat.RoomInvite, chat.RoomDelivery, chat.MembersChanged, chat.RoomTopic:
				if b := m.roomEvent(ev); b != "" {
					bell = b
				}
				continue
			case chat.Message:
				if m.cur != 0 && !ev.At.Before(m.transcript.started) {
					// A message to the peers while a room is shown.
					m.convs[0].arrived(mentions(ev.Text, m.name))
					bell = ev.Name + " in the direct chat"
				}
			}
			peersChanged = m.transcript.event(ev) || peersChanged
		}
		cmds := []tea.Cmd{m.eventsCmd(), m.markShownCmd(msg)}
		if bell != "" {
			cmds = append(cmds, m.bellCmd(bell))
		}
		if peersChanged {
			cmds = append(cmds, m.refreshCmd())
		}
		return tea.Batch(cmds...)
	case eventsClosedMsg:
		// The node is closed: by our leaving, or under us.
		if !m.leaving {
			m.leaving = true
			return m.input.inOrder(m.leaveCmd(false, ""))
		}
	case sendDoneMsg:
		m.sendDone(msg)
		if m.panel.newPeer(msg.sent) {
			// /msg to someone nearby made them a peer.
			return tea.Batch(m.input.doneInOrder(), m.refreshCmd())
		}
		return m.input.doneInOrder()
	case roomDoneMsg:
		m.gotRoomDone(msg)
	case roomsListedMsg:
		for _, r := range msg {
			m.conversation(r.Name).topic = r.Topic
		}
	case missingMsg:
		m.gotMissing(msg)
	case roomHistoryMsg:
		m.gotRoomHistory(msg)
	case roomSaidMsg:
		m.gotSaid(msg)
		return m.input.doneInOrder()
	case historyMsg:
		m.transcript.gotHistory(msg)
	case fileMsg:
		m.gotFile(msg)
	case cancelMsg:
		m.gotCancel(msg)
	case forgetMsg:
		m.gotForget(msg)
		return m.refreshCmd()
	case renameMsg:
		return m.gotRename(msg)
	case peersMsg:
		return m.gotPeers(msg)
	case statsMsg:
		m.gotStats(msg)
	case nickMsg:
		if msg.name != "" {
			m.name = msg.name
			m.transcript.notice("you are now known as %s", msg.name)
		}
		if msg.err != nil {
			m.fail(msg.err)
		}
	case connectMsg:
		if msg.err != nil {
			m.fail(msg.err)
			break
		}
		m.transcript.notice("connecting to %s…", msg.peer)
		return m.refreshCmd()
	case reachMsg:
		m.reach = msg
		m.transcript.dirty = true
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
	m.input.setSize(m.width, m.height)
	for _, c := range m.convs {
		c.tr.setSize(m.transcriptWidth(), m.bodyHeight())
	}
}

// bodyHeight is what the header, the status line and the input leave for
// the messages.
func (m *model) bodyHeight() int {
	return max(1, m.height-2-m.input.Height())
}

func (m *model) panelWidth() int { return m.panel.width(m.width) }

func (m *model) transcriptWidth() int { return max(1, m.width-m.panelWidth()) }

// fail shows err in the transcript and, until the next key, under it: an
// error is never a crash, and never goes unseen.
func (m *model) fail(err error) {
	m.shown().tr.addError(err.Error())
	m.input.setStatus(termsafe.Line(err.Error()), true)
}

// gotPeers takes a fresh look at the peers.
func (m *model) gotPeers(msg peersMsg) tea.Cmd {
	hadPanel := m.panelWidth()
	again := m.panel.Update(msg)
	if m.panelWidth() != hadPanel {
		m.layout()
		m.restyle()
	}
	m.transcript.dirty = true // the welcome depends on the peers
	if again {
		return m.refreshCmd()
	}
	return nil
}

// rebuild lays the transcript out again, with the welcome if it is due.
func (m *model) rebuild() {
	w := m.transcriptWidth()
	if m.panelWidth() > 0 {
		w-- // a column between the text and the panel's border
	}
	var welcome func(w, h int) []string
	if m.cur == 0 && m.welcoming() {
		welcome = m.welcomeLines
	}
	m.shown().tr.rebuild(m.st, w, m.bodyHeight(), welcome)
}

// sendDone binds a returned Send to its entry, and shows its error.
func (m *model) sendDone(msg sendDoneMsg) {
	if err := m.transcript.sendDone(msg); err != nil {
		m.fail(err)
	}
}

// welcoming says whether to show the welcome: until someone is online or a
// message has gone either way.
func (m *model) welcoming() bool {
	return !m.transcript.chatted && m.panel.online() == 0
}

// interrupt is Ctrl+C (or SIGTERM): the first leaves gracefully without
// waiting for delivery, or stops a wait already under way; a third gives up
// on the goodbye (Run still closes the node).
func (m *model) interrupt() tea.Cmd {
	switch {
	case !m.leaving:
		m.leaving = true
		return m.input.inOrder(m.leaveCmd(false, ""))
	case m.leaveWait && m.leaveCancel != nil:
		m.leaveCancel()
		m.leaveCancel = nil
		m.leaveWait = false
		m.shown().tr.dirty = true
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
	body := m.shown().tr.View()
	if pw := m.panelWidth(); pw > 0 {
		body = lipgloss.JoinHorizontal(lipgloss.Top, body, m.panel.View(m.st, pw, m.bodyHeight()))
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
