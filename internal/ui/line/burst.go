package line

// Burst gathers lines of text that came together (Input.More: a paste, a
// pipe) so that they are sent in one Node.SendLines, which writes them to
// the outbox in one commit. Its bounds keep the memory it holds small.
type Burst struct {
	lines []string
	bytes int
}

// A burst is sent once this many lines have come together, or this many
// bytes of them.
const (
	maxBurstLines = 1024
	maxBurstBytes = 1 << 20
)

// Add adds text, and says whether to send the burst now: no other whole
// line was ready behind this one (more is Input.More), or it is full.
func (b *Burst) Add(text string, more bool) (send bool) {
	b.lines = append(b.lines, text)
	b.bytes += len(text)
	return !more || len(b.lines) >= maxBurstLines || b.bytes >= maxBurstBytes
}

// Len is how many lines the burst holds.
func (b *Burst) Len() int { return len(b.lines) }

// Take returns the lines and empties the burst.
func (b *Burst) Take() []string {
	lines := b.lines
	b.lines, b.bytes = nil, 0
	return lines
}
