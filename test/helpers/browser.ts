// The headless browser lives with the demo (palisade demo --headless), which drives the same pages.
export * from '@palisade/cli/headless';
