module github.com/yardhq/yard

go 1.26.8
