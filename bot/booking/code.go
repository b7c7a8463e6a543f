package booking

import (
	"crypto/rand"
	"errors"
	"strconv"
	"strings"
	"time"
)

// CodeAlphabet is the alphabet of booking codes: digits and capital letters
// without 0, O, 1 and I, which people confuse when reading a code aloud.
const CodeAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// CodeLen is the length of a booking code: 32^6, about a billion codes.
const CodeLen = 6

// ErrBadCode: the text is not a booking code.
var ErrBadCode = errors.New("booking: not a booking code")

// NewCode returns a random booking code.
func NewCode() string {
	var b [CodeLen]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	for i := range b {
		b[i] = CodeAlphabet[b[i]%byte(len(CodeAlphabet))] // 256 is a multiple of 32: no bias
	}
	return string(b[:])
}

// ParseCode reads a booking code as a citizen types it: any case, with
// spaces or dashes ("abc-234", " ABC 234 ") and returns the canonical code.
func ParseCode(s string) (string, error) {
	if len(s) > 32 {
		return "", ErrBadCode
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-' || c == '\t':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		if strings.IndexByte(CodeAlphabet, c) < 0 {
			return "", ErrBadCode
		}
		b.WriteByte(c)
	}
	if b.Len() != CodeLen {
		return "", ErrBadCode
	}
	return b.String(), nil
}

// ErrBadSlotID: the text is not a slot id made by Slot.ID.
var ErrBadSlotID = errors.New("booking: not a slot id")

// maxSlotMinute bounds the minutes a slot id may carry (year 2200).
const maxSlotMinute = 7258118400 / 60

// ID encodes the slot compactly for button ids: the office id, a dot, and
// the start in minutes since 1970 in base 36 ("centrale.t0k2qo", at most 33
// bytes of [a-z0-9_.-]). ParseSlotID reverses it.
func (s Slot) ID() string {
	return s.Office + "." + strconv.FormatInt(s.Start.Unix()/60, 36)
}

// ParseSlotID decodes an id made by Slot.ID. Only the canonical form is
// accepted. The office is not checked against the Comune (Book does that).
func ParseSlotID(id string) (Slot, error) {
	i := strings.LastIndexByte(id, '.')
	if i < 1 || i > 24 || len(id)-i-1 < 1 || len(id)-i-1 > 8 {
		return Slot{}, ErrBadSlotID
	}
	office, mins := id[:i], id[i+1:]
	for j := 0; j < len(office); j++ {
		c := office[j]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || (j > 0 && (c == '-' || c == '_'))) {
			return Slot{}, ErrBadSlotID
		}
	}
	if mins[0] == '0' {
		return Slot{}, ErrBadSlotID // no leading zeros: one id per slot
	}
	for j := 0; j < len(mins); j++ {
		if c := mins[j]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return Slot{}, ErrBadSlotID
		}
	}
	m, err := strconv.ParseInt(mins, 36, 64)
	if err != nil || m <= 0 || m > maxSlotMinute {
		return Slot{}, ErrBadSlotID
	}
	return Slot{Office: office, Start: time.Unix(m*60, 0).UTC()}, nil
}
