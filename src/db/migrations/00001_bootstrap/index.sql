-- Every timestamp the product writes and reads is UTC, whatever the server's default.
do $$
begin
  execute format('alter database %I set timezone to %L', current_database(), 'UTC');
end
$$;
