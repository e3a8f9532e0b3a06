package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"strings"
	"time"
)

// The plot of latency against offered load: p99 (solid) and p50 (dashed)
// on a log scale, one colour per configuration, drawn with the standard library only (a 5x7 bitmap
// font, upper case) so that make bench-envoy needs nothing more.

const (
	plotW, plotH                       = 900, 540
	marginL, marginR, marginT, marginB = 90, 30, 50, 60
	scale                              = 2 // font pixels
	yMin, yMax                         = 0.1, 10000.0
)

var (
	white   = color.RGBA{255, 255, 255, 255}
	black   = color.RGBA{0, 0, 0, 255}
	grey    = color.RGBA{220, 220, 220, 255}
	palette = []color.RGBA{{90, 90, 90, 255}, {214, 39, 40, 255}, {31, 119, 180, 255}, {44, 160, 44, 255}}
)

// writePlot draws p99 and p50 latency against offered load for each configuration
// in names (in that order, with palette's colours), with a dashed line at
// half of saturation, and writes it as a PNG.
func writePlot(path string, names []string, points map[string][]point, saturation float64) error {
	img := image.NewRGBA(image.Rect(0, 0, plotW, plotH))
	fill(img, img.Bounds(), white)
	x0, x1, y0, y1 := marginL, plotW-marginR, plotH-marginB, marginT
	xMax := 0.0
	for _, ps := range points {
		for _, p := range ps {
			xMax = max(xMax, p.offered)
		}
	}
	xStep := niceStep(xMax / 6)
	xMax = math.Ceil(xMax*1.02/xStep) * xStep
	px := func(x float64) int { return x0 + int(x/xMax*float64(x1-x0)) }
	py := func(ms float64) int {
		ms = min(max(ms, yMin), yMax)
		return y0 - int((math.Log10(ms)-math.Log10(yMin))/(math.Log10(yMax)-math.Log10(yMin))*float64(y0-y1))
	}
	// Grid and ticks.
	for v := yMin; v <= yMax*1.001; v *= 10 {
		y := py(v)
		line(img, x0, y, x1, y, grey, 1, false)
		label := strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", v), "0"), ".")
		text(img, x0-8-textWidth(label), y-3*scale, label, black)
	}
	for v := 0.0; v <= xMax*1.001; v += xStep {
		x := px(v)
		line(img, x, y0, x, y1, grey, 1, false)
		label := fmt.Sprintf("%.0f", v)
		text(img, x-textWidth(label)/2, y0+8, label, black)
	}
	line(img, x0, y0, x1, y0, black, 1, false)
	line(img, x0, y0, x0, y1, black, 1, false)
	if saturation > 0 {
		x := px(saturation / 2)
		line(img, x, y0, x, y1, black, 1, true)
		text(img, x+4, y1+4, "HALF OF (A)", black)
	}
	text(img, x0-60, 16, "LATENCY AGAINST OFFERED LOAD: P99 SOLID, P50 DASHED (MS, LOG)", black)
	label := "OFFERED LOAD (REQ/S, OPEN LOOP)"
	text(img, (x0+x1-textWidth(label))/2, plotH-24, label, black)

	// Lines, and the legend.
	for i, name := range names {
		c := palette[i%len(palette)]
		ps := points[name]
		msOf := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
		for j := range ps {
			x, y := px(ps[j].offered), py(msOf(ps[j].p99))
			fill(img, image.Rect(x-3, y-3, x+4, y+4), c)
			if j > 0 {
				line(img, px(ps[j-1].offered), py(msOf(ps[j-1].p99)), x, y, c, 2, false)
				line(img, px(ps[j-1].offered), py(msOf(ps[j-1].p50)), x, py(msOf(ps[j].p50)), c, 1, true)
			}
		}
		ly := y1 + 30 + i*9*scale
		fill(img, image.Rect(x0+20, ly+2, x0+44, ly+8), c)
		text(img, x0+52, ly, strings.ToUpper(name), black)
	}

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// niceStep rounds v up to 1, 2 or 5 times a power of ten.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	r = r.Intersect(img.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			img.SetRGBA(x, y, c)
		}
	}
}

// line draws from (xa, ya) to (xb, yb), width pixels wide, dashed or not.
func line(img *image.RGBA, xa, ya, xb, yb int, c color.RGBA, width int, dashed bool) {
	steps := max(abs(xb-xa), abs(yb-ya), 1)
	for i := 0; i <= steps; i++ {
		if dashed && (i/6)%2 == 1 {
			continue
		}
		x := xa + (xb-xa)*i/steps
		y := ya + (yb-ya)*i/steps
		fill(img, image.Rect(x, y, x+width, y+width), c)
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

func textWidth(s string) int { return len(s) * 6 * scale }

// text draws s (upper case; other characters as blanks) with its top left
// corner at (x, y).
func text(img *image.RGBA, x, y int, s string, c color.RGBA) {
	for i, r := range strings.ToUpper(s) {
		g, ok := glyphs[r]
		if !ok {
			continue
		}
		for row, bits := range g {
			for col, bit := range bits {
				if bit == '#' {
					fill(img, image.Rect(x+(i*6+col)*scale, y+row*scale, x+(i*6+col+1)*scale, y+(row+1)*scale), c)
				}
			}
		}
	}
}

// glyphs is a 5x7 font: the characters the plot writes.
var glyphs = map[rune][7]string{
	'A': {" ### ", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"},
	'B': {"#### ", "#   #", "#   #", "#### ", "#   #", "#   #", "#### "},
	'C': {" ### ", "#   #", "#    ", "#    ", "#    ", "#   #", " ### "},
	'D': {"#### ", "#   #", "#   #", "#   #", "#   #", "#   #", "#### "},
	'E': {"#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#####"},
	'F': {"#####", "#    ", "#    ", "#### ", "#    ", "#    ", "#    "},
	'G': {" ### ", "#   #", "#    ", "# ###", "#   #", "#   #", " ####"},
	'H': {"#   #", "#   #", "#   #", "#####", "#   #", "#   #", "#   #"},
	'I': {" ### ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "},
	'J': {"  ###", "   # ", "   # ", "   # ", "   # ", "#  # ", " ##  "},
	'K': {"#   #", "#  # ", "# #  ", "##   ", "# #  ", "#  # ", "#   #"},
	'L': {"#    ", "#    ", "#    ", "#    ", "#    ", "#    ", "#####"},
	'M': {"#   #", "## ##", "# # #", "# # #", "#   #", "#   #", "#   #"},
	'N': {"#   #", "#   #", "##  #", "# # #", "#  ##", "#   #", "#   #"},
	'O': {" ### ", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "},
	'P': {"#### ", "#   #", "#   #", "#### ", "#    ", "#    ", "#    "},
	'Q': {" ### ", "#   #", "#   #", "#   #", "# # #", "#  # ", " ## #"},
	'R': {"#### ", "#   #", "#   #", "#### ", "# #  ", "#  # ", "#   #"},
	'S': {" ####", "#    ", "#    ", " ### ", "    #", "    #", "#### "},
	'T': {"#####", "  #  ", "  #  ", "  #  ", "  #  ", "  #  ", "  #  "},
	'U': {"#   #", "#   #", "#   #", "#   #", "#   #", "#   #", " ### "},
	'V': {"#   #", "#   #", "#   #", "#   #", "#   #", " # # ", "  #  "},
	'W': {"#   #", "#   #", "#   #", "# # #", "# # #", "# # #", " # # "},
	'X': {"#   #", "#   #", " # # ", "  #  ", " # # ", "#   #", "#   #"},
	'Y': {"#   #", "#   #", " # # ", "  #  ", "  #  ", "  #  ", "  #  "},
	'Z': {"#####", "    #", "   # ", "  #  ", " #   ", "#    ", "#####"},
	'0': {" ### ", "#   #", "#  ##", "# # #", "##  #", "#   #", " ### "},
	'1': {"  #  ", " ##  ", "  #  ", "  #  ", "  #  ", "  #  ", " ### "},
	'2': {" ### ", "#   #", "    #", "   # ", "  #  ", " #   ", "#####"},
	'3': {"#####", "   # ", "  #  ", "   # ", "    #", "#   #", " ### "},
	'4': {"   # ", "  ## ", " # # ", "#  # ", "#####", "   # ", "   # "},
	'5': {"#####", "#    ", "#### ", "    #", "    #", "#   #", " ### "},
	'6': {"  ## ", " #   ", "#    ", "#### ", "#   #", "#   #", " ### "},
	'7': {"#####", "    #", "   # ", "  #  ", " #   ", " #   ", " #   "},
	'8': {" ### ", "#   #", "#   #", " ### ", "#   #", "#   #", " ### "},
	'9': {" ### ", "#   #", "#   #", " ####", "    #", "   # ", " ##  "},
	'.': {"     ", "     ", "     ", "     ", "     ", " ##  ", " ##  "},
	',': {"     ", "     ", "     ", "     ", " ##  ", "  #  ", " #   "},
	':': {"     ", " ##  ", " ##  ", "     ", " ##  ", " ##  ", "     "},
	'-': {"     ", "     ", "     ", "#####", "     ", "     ", "     "},
	'+': {"     ", "  #  ", "  #  ", "#####", "  #  ", "  #  ", "     "},
	'_': {"     ", "     ", "     ", "     ", "     ", "     ", "#####"},
	'/': {"     ", "    #", "   # ", "  #  ", " #   ", "#    ", "     "},
	'(': {"   # ", "  #  ", " #   ", " #   ", " #   ", "  #  ", "   # "},
	')': {" #   ", "  #  ", "   # ", "   # ", "   # ", "  #  ", " #   "},
}
