// Test service: logs why and exits at once, every time it is started.
console.error('fatal: required setting FOO_URL is missing');
process.exit(3);
