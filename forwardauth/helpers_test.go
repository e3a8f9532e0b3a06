package forwardauth_test

// deployClaims are claims the deploy policy allows.
var deployClaims = map[string]any{
	"repository": "octo-org/infra", "repository_id": "777", "ref": "refs/heads/main", "environment": "production",
}
