package match

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// hasPrefixFold is strings.HasPrefix under Unicode simple case folding, as
// strings.EqualFold compares: rune by rune, since runes that fold together
// may differ in length ("K", the Kelvin sign, is three bytes, "k" one).
func hasPrefixFold(s, prefix string) bool {
	for _, pr := range prefix {
		if s == "" {
			return false
		}
		sr, n := utf8.DecodeRuneInString(s)
		s = s[n:]
		if sr != pr && !equalFoldRune(sr, pr) {
			return false
		}
	}
	return true
}

// equalFoldRune reports whether a and b are the same rune under simple case
// folding (the loop of strings.EqualFold).
func equalFoldRune(a, b rune) bool {
	if b < a {
		a, b = b, a
	}
	if b < utf8.RuneSelf {
		return 'A' <= a && a <= 'Z' && b == a+'a'-'A'
	}
	r := unicode.SimpleFold(a)
	for r != a && r < b {
		r = unicode.SimpleFold(r)
	}
	return r == b
}

// foldRegex compiles s, a valid regex, for a claim that ignores case in all
// of its value (FoldAll) or in its repository part (FoldRepo). It works on
// the parsed pattern rather than adding a flag, so that no (?-i) inside can
// turn case-sensitivity back on: every literal and character class folds
// case, for FoldRepo only those before the pattern's second literal "/" at
// its top level, as a glob's text before its second "/". The owner is pinned
// by the literal prefix of the parsed pattern, whatever its case flags.
func foldRegex(s string, o Options) (Matcher, bool, error) {
	re, err := syntax.Parse(s, syntax.Perl)
	if err != nil {
		return nil, false, regexError(s, err)
	}
	if o.Fold == FoldAll {
		foldAllOf(re)
	} else {
		foldLeading(re, 2)
	}
	lit, complete := literalOf(re)
	pins := pinnedBy(o.Pin, lit, complete)
	if complete && o.Fold == FoldAll {
		return foldEqual(lit), pins, nil
	}
	out, err := regexp.Compile(`^(?:` + re.String() + `)$`)
	if err != nil {
		return nil, false, regexError(s, err)
	}
	return pattern{out}, pins, nil
}

// foldAllOf makes every literal and character class of re fold case.
func foldAllOf(re *syntax.Regexp) {
	switch re.Op {
	case syntax.OpLiteral:
		re.Flags |= syntax.FoldCase
	case syntax.OpCharClass:
		re.Rune = foldClass(re.Rune)
	}
	for _, sub := range re.Sub {
		foldAllOf(sub)
	}
}

// foldLeading folds case in re up to the point where it has matched need
// more literal "/" (counted in literals at its top level and in the
// captures and concatenations there), and returns how many it still needs.
// A literal that holds the last one needed is split in two.
func foldLeading(re *syntax.Regexp, need int) int {
	switch re.Op {
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if need = foldLeading(sub, need); need == 0 {
				break
			}
		}
		return need
	case syntax.OpCapture:
		return foldLeading(re.Sub[0], need)
	case syntax.OpLiteral:
		for i, r := range re.Rune {
			if r != '/' {
				continue
			}
			if need--; need == 0 {
				head := &syntax.Regexp{Op: syntax.OpLiteral, Flags: re.Flags | syntax.FoldCase, Rune: slices.Clone(re.Rune[:i+1])}
				tail := &syntax.Regexp{Op: syntax.OpLiteral, Flags: re.Flags, Rune: slices.Clone(re.Rune[i+1:])}
				*re = syntax.Regexp{Op: syntax.OpConcat, Flags: re.Flags, Sub: []*syntax.Regexp{head, tail}}
				return 0
			}
		}
		re.Flags |= syntax.FoldCase
		return need
	}
	foldAllOf(re)
	return need
}

// foldClass returns the character class ranges r (pairs lo, hi) folded as
// the regexp parser folds a class under (?i): every rune's simple case folds
// added to a class, and to the complement of a negated class before it is
// negated again. The parser has already negated [^t], \W or \PL into the
// ranges of what they match, which run up to unicode.MaxRune as no written
// class does; adding the folds of those ranges would add "t" back to [^t]
// (it is the fold of "T", which [^t] holds), so that a case-insensitive
// [^t] matched every rune. Only a written class that names U+10FFFF itself,
// such as [a\x{10FFFF}], is taken for a negated one; it then matches less
// than (?i) would (that class, neither "a" nor "A"), never more.
func foldClass(r []rune) []rune {
	if n := len(r); n > 0 && r[n-1] == unicode.MaxRune {
		return negateClass(addFolds(negateClass(r)))
	}
	return addFolds(r)
}

// addFolds returns the class ranges r with every rune's simple case folds
// added. It visits only the runes that have other folds (foldRunes), not
// every rune of a class such as [^/].
func addFolds(r []rune) []rune {
	out := slices.Clone(r)
	folding := foldRunes()
	for i := 0; i+1 < len(r); i += 2 {
		lo, hi := r[i], r[i+1]
		j, _ := slices.BinarySearch(folding, lo)
		for ; j < len(folding) && folding[j] <= hi; j++ {
			c := folding[j]
			for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
				out = append(out, f, f)
			}
		}
	}
	return normalizeClass(out)
}

// foldRunes returns, in order, every rune that simple case folding maps to
// another: the letters of unicode.CaseRanges, and the few whose fold lies
// outside them ("ß" folds to "ẞ").
var foldRunes = sync.OnceValue(func() []rune {
	var out []rune
	for c := rune(0); c <= unicode.MaxRune; c++ {
		if unicode.SimpleFold(c) != c {
			out = append(out, c)
		}
	}
	return out
})

// negateClass returns the ranges of the runes that the sorted, merged
// class ranges r do not hold.
func negateClass(r []rune) []rune {
	var out []rune
	next := rune(0)
	for i := 0; i+1 < len(r); i += 2 {
		if r[i] > next {
			out = append(out, next, r[i]-1)
		}
		next = r[i+1] + 1
	}
	if next <= unicode.MaxRune {
		out = append(out, next, unicode.MaxRune)
	}
	return out
}

// normalizeClass sorts class ranges and merges those that overlap or touch.
func normalizeClass(r []rune) []rune {
	type span struct{ lo, hi rune }
	spans := make([]span, 0, len(r)/2)
	for i := 0; i+1 < len(r); i += 2 {
		spans = append(spans, span{r[i], r[i+1]})
	}
	slices.SortFunc(spans, func(a, b span) int { return int(a.lo - b.lo) })
	out := r[:0:0]
	for _, sp := range spans {
		if n := len(out); n > 0 && sp.lo <= out[n-1]+1 {
			out[n-1] = max(out[n-1], sp.hi)
			continue
		}
		out = append(out, sp.lo, sp.hi)
	}
	return out
}

// literalOf returns the literal text every match of re starts with, and
// whether that text is all re matches. Leading ^ and trailing $ of the whole
// pattern are skipped (the pattern is anchored anyway); case flags are not
// looked at, since the claims this serves ignore case.
func literalOf(re *syntax.Regexp) (string, bool) {
	subs := []*syntax.Regexp{re}
	if re.Op == syntax.OpConcat {
		subs = re.Sub
	}
	if len(subs) > 0 && subs[0].Op == syntax.OpBeginText {
		subs = subs[1:]
	}
	if n := len(subs); n > 0 && subs[n-1].Op == syntax.OpEndText {
		subs = subs[:n-1]
	}
	var b strings.Builder
	for _, sub := range subs {
		lit, complete := plainLiteral(sub)
		b.WriteString(lit)
		if !complete {
			return b.String(), false
		}
	}
	return b.String(), true
}

// plainLiteral is literalOf without anchors: literals, and captures and
// concatenations of them.
func plainLiteral(re *syntax.Regexp) (string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return string(re.Rune), true
	case syntax.OpEmptyMatch:
		return "", true
	case syntax.OpCapture:
		return plainLiteral(re.Sub[0])
	case syntax.OpConcat:
		var b strings.Builder
		for _, sub := range re.Sub {
			lit, complete := plainLiteral(sub)
			b.WriteString(lit)
			if !complete {
				return b.String(), false
			}
		}
		return b.String(), true
	}
	return "", false
}
