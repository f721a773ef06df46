// The data mover: joins block sources to the repository.
