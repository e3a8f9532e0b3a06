package config

// Bounds on the shape of a configuration file. The file is written by the
// platform team, but a mistake in it, or a half-written or hostile file picked
// up by a reload, must be refused in time linear in its size, never crash the
// process or exhaust its memory: YAML aliases let a few lines describe a tree
// of billions of nodes ("billion laughs") or an infinite one (an alias inside
// its own anchor), and condition values nest.
const (
	// maxExpandedNodes bounds the document with every alias expanded. A
	// policy file of hundreds of policies is a few thousand nodes.
	maxExpandedNodes = 100_000
	// maxValueDepth bounds how deeply lists and {not: ...} nest in one
	// condition value; real values nest two or three levels.
	maxValueDepth = 8
)
