package booking

// Reasons for a CIE appointment, in the order the citizen sees them.
const (
	ReasonFirst   = "first"
	ReasonRenewal = "renewal"
	ReasonLoss    = "loss"
	ReasonTheft   = "theft"
	ReasonDamaged = "damaged"
	ReasonMinor   = "minor"
)

// Reasons lists the reasons a citizen can book for.
func Reasons() []string {
	return []string{ReasonFirst, ReasonRenewal, ReasonLoss, ReasonTheft, ReasonDamaged, ReasonMinor}
}

// reasonIn reads a reason from free text. The more specific reasons win:
// "rinnovo per mio figlio" is a minor's card, "mi hanno rubato la carta
// scaduta" a theft.
func (w *words) reasonIn(text string) string {
	for _, r := range []string{ReasonTheft, ReasonLoss, ReasonDamaged, ReasonMinor, ReasonRenewal, ReasonFirst} {
		if w.has("reason_"+r, text) {
			return r
		}
	}
	return ""
}
