package fuzzy

import "testing"

func TestDistance(t *testing.T) {
	tests := []struct {
		a, b string
		max  int
		want int
	}{
		{"costa", "costa", 2, 0},
		{"kosta", "costa", 2, 1},
		{"rinovare", "rinnovare", 2, 1},
		{"ptoo", "poto", 2, 1}, // transposition
		{"scadensa", "scadenza", 2, 1},
		{"febbrao", "febbraio", 2, 1},
		{"abc", "xyz", 2, 3},
		{"abc", "abcdefg", 2, 3}, // length difference alone exceeds max
		{"", "ab", 2, 2},
		{"identita", "identity", 1, 1},
		{"documento", "domicilio", 2, 3},
	}
	for _, tc := range tests {
		t.Run(tc.a+"/"+tc.b, func(t *testing.T) {
			if got := Distance(tc.a, tc.b, tc.max); got != tc.want {
				t.Errorf("Distance(%q, %q, %d) = %d, want %d", tc.a, tc.b, tc.max, got, tc.want)
			}
			if got := Distance(tc.b, tc.a, tc.max); got != tc.want {
				t.Errorf("Distance(%q, %q, %d) = %d, want %d (not symmetric)", tc.b, tc.a, tc.max, got, tc.want)
			}
		})
	}
}

func TestDistanceTooLong(t *testing.T) {
	long := string(make([]byte, MaxLen+1))
	if got := Distance(long, long, 2); got != 3 {
		t.Errorf("Distance(long, long, 2) = %d, want 3", got)
	}
}

func FuzzDistance(f *testing.F) {
	f.Add("costa", "kosta")
	f.Add("", "")
	f.Add("abcdef", "badcfe")
	f.Fuzz(func(t *testing.T, a, b string) {
		d := Distance(a, b, 2)
		if d < 0 || d > 3 {
			t.Fatalf("Distance(%q, %q, 2) = %d, out of range", a, b, d)
		}
		if (d == 0) != (a == b) && len(a) <= MaxLen {
			t.Fatalf("Distance(%q, %q, 2) = %d", a, b, d)
		}
		if d2 := Distance(b, a, 2); d2 != d {
			t.Fatalf("Distance not symmetric: %d vs %d", d, d2)
		}
	})
}

func BenchmarkDistance(b *testing.B) {
	for b.Loop() {
		Distance("rinnovare", "rinovare", 2)
	}
}
