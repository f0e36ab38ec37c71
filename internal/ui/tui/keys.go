package tui

import "charm.land/bubbles/v2/key"

// keyMap is every key the UI handles itself; the rest edit the input (the
// bubbles textarea's keys: arrows, Home/End, Ctrl+A/E/W/U/K, …).
type keyMap struct {
	Send, Newline, Complete  key.Binding
	HistoryPrev, HistoryNext key.Binding
	PageUp, PageDown, Bottom key.Binding
	Leave                    key.Binding
}

func defaultKeys() keyMap {
	return keyMap{
		Send:        key.NewBinding(key.WithKeys("enter"), key.WithHelp("Enter", "send")),
		Newline:     key.NewBinding(key.WithKeys("alt+enter", "shift+enter", "ctrl+j"), key.WithHelp("Alt+Enter", "new line (also Ctrl+J)")),
		Complete:    key.NewBinding(key.WithKeys("tab"), key.WithHelp("Tab", "complete a /command, a peer's name, or what /cancel can cancel")),
		HistoryPrev: key.NewBinding(key.WithKeys("up", "ctrl+p"), key.WithHelp("Up/Down", "what you typed before")),
		HistoryNext: key.NewBinding(key.WithKeys("down", "ctrl+n")),
		PageUp:      key.NewBinding(key.WithKeys("pgup"), key.WithHelp("PgUp/PgDn", "scroll (or the mouse wheel)")),
		PageDown:    key.NewBinding(key.WithKeys("pgdown")),
		Bottom:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("Esc", "back to the newest messages")),
		Leave:       key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("Ctrl+C", "leave (peers see you go)")),
	}
}

// help lists the bindings that have help, for /help.
func (k keyMap) help() []key.Binding {
	return []key.Binding{k.Send, k.Newline, k.Complete, k.HistoryPrev, k.PageUp, k.Bottom, k.Leave}
}
