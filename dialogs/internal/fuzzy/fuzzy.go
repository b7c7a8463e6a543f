// Package fuzzy measures how far apart two short words are, so that the
// dialogs can read a citizen's typos ("rinovare", "febbrao") as the word they
// meant.
package fuzzy

// MaxLen is the longest word Distance compares; longer words are never
// close to anything.
const MaxLen = 32

// Distance returns the optimal string alignment distance between a and b
// (Levenshtein with adjacent transpositions: "ptoo" is one edit from
// "poto"), compared byte by byte, or max+1 as soon as it exceeds max. It does
// not allocate.
func Distance(a, b string, max int) int {
	if len(a) > MaxLen || len(b) > MaxLen {
		return max + 1
	}
	if d := len(a) - len(b); d > max || -d > max {
		return max + 1
	}
	if a == b {
		return 0
	}
	// Three rolling rows of the dynamic programming table.
	var rows [3][MaxLen + 1]int
	prev2, prev, cur := &rows[0], &rows[1], &rows[2]
	for j := 0; j <= len(b); j++ {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, prev2[j-2]+1)
			}
			cur[j] = d
			best = min(best, d)
		}
		if best > max {
			return max + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	if prev[len(b)] > max {
		return max + 1
	}
	return prev[len(b)]
}
