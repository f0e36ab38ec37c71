package store

import (
	"strings"
	"unicode"
)

// ftsQuery turns what a user typed into an FTS5 query that cannot be a
// syntax error and means what they typed: every whitespace-separated word
// of it must occur, as a word or the start of one.
//
// Each word is quoted as an FTS5 string, so nothing in it is syntax (AND,
// NEAR, *, ^, :, parentheses are text; a " is doubled), and followed by *,
// a prefix match of its last token. The tokenizer splits a quoted word the
// way it split the text, so don't finds "don't" (the phrase don t*) and
// e-mail finds "e-mail". Words with no letter or digit ("?!") are dropped,
// as the index holds none of them; if that leaves nothing, ftsQuery
// returns "" and the caller falls back to a substring scan.
func ftsQuery(search string) string {
	var b strings.Builder
	for _, w := range strings.Fields(search) {
		if !strings.ContainsFunc(w, isTokenRune) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('"')
		b.WriteString(strings.ReplaceAll(w, `"`, `""`))
		b.WriteString(`"*`)
	}
	return b.String()
}

// isTokenRune reports whether the unicode61 tokenizer keeps r in a token:
// its default categories are letters, numbers and private use (L* N* Co).
func isTokenRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Co, r)
}

// likeEscape makes s match itself in a LIKE pattern with ESCAPE '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
