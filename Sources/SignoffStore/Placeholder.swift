public enum SignoffStorePlaceholder {}
