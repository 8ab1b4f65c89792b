/** @type {import('tailwindcss').Config} */
export default {
  content: ['./index.html', './src/**/*.{ts,tsx}'],
  theme: {
    extend: {
      colors: {
        acid: { DEFAULT: '#b4ff39', dim: '#8fcc2e', glow: '#d4ff8a' },
        ink: { 950: '#07090a', 900: '#0d1011', 800: '#151a1c', 700: '#1f2629', 600: '#2c3539', 400: '#7d8a8f', 200: '#c9d2d5' },
      },
      fontFamily: { mono: ['ui-monospace', 'SFMono-Regular', 'Menlo', 'Consolas', 'monospace'] },
    },
  },
  plugins: [],
};
