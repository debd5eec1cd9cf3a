// Placeholder translation unit so that the component's object library is never empty.
