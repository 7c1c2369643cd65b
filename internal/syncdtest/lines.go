package syncdtest

import "strings"

// LinesWithPrefix keeps the lines of text that start with prefix, so a
// failure message can show the few /metrics series it is about instead of
// the whole scrape.
func LinesWithPrefix(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
