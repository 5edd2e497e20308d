package catalog

import (
	"cmp"
	"slices"
)

// suggest returns up to n catalog actions nearest to a (see Nearest).
func suggest(a string, n int) []string {
	actions := make([]string, len(all))
	for i, e := range all {
		actions[i] = e.Action()
	}
	return Nearest(a, actions, n)
}

// Nearest returns up to n of names nearest to a by edit distance: the best
// ones and those one edit worse, within a limit that grows with the input
// so that nonsense gets no suggestions. The CLI suggests commands with it
// too.
func Nearest(a string, names []string, n int) []string {
	type cand struct {
		name string
		d    int
	}
	limit := max(2, len(a)/3)
	var cs []cand
	for _, name := range names {
		if d := distance(a, name); d <= limit {
			cs = append(cs, cand{name, d})
		}
	}
	if len(cs) == 0 {
		return nil
	}
	slices.SortFunc(cs, func(x, y cand) int {
		return cmp.Or(cmp.Compare(x.d, y.d), cmp.Compare(x.name, y.name))
	})
	var out []string
	for _, c := range cs {
		if len(out) == n || c.d > cs[0].d+1 {
			break
		}
		out = append(out, c.name)
	}
	return out
}

// distance is the Levenshtein distance between a and b, in bytes (actions
// are ASCII).
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
